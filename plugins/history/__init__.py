"""History: a joiner gets the last messages of the room (and the everybody-chat on connect) before any live one.

On entering a room the client gets `groupHistory(roomId, [{nickName, msg, at, id}, ...])`, oldest
first; on connecting, `chatHistory([...])` for the everybody-chat. Messages are kept in the
shared store (Redis with the redis backplane, so every process sees the same history): the
last `max_messages` per room, none older than `max_age`, at most `max_rooms` rooms.

The seam (no message both in the history and live, none lost between them) rests on core's
join holds (ctx.on_join) and on message ids: see recorder.py for the argument.
"""

from __future__ import annotations

import asyncio

from core.api import Field, Join, MessageSent, Outgoing, PluginConfig, PluginContext

from .recorder import EVERYBODY_KEY, ROOMS_KEY, Recorder, now_ms, room_key

name = "history"

FLUSH_TOPIC = "flush"
WARM_TOPIC = "archive:recent"  # the archive plugin's topic "recent", when it is enabled
WARM_MARKER = "warmed"


class Config(PluginConfig):
    """How much history is kept, and for which chats."""

    max_messages: int = Field(50, ge=1, le=10_000)       # per room, and for the everybody-chat
    max_age: float = Field(86_400.0, gt=0)              # seconds; older messages are not shown, and a
                                                        # room idle this long is forgotten
    max_rooms: int = Field(10_000, ge=1)                 # rooms kept; the least recently active go first
    everybody_chat: bool = True                          # chatHistory on connect
    room_event: str = "receiveGroupMsg"                  # recorded: (roomId, msg) to a room
    chat_event: str = "receiveAll"                       # recorded: (msg) to everybody
    buffer_size: int = Field(10_000, ge=1)               # entries waiting for a slow or absent store
    flush_timeout: float = Field(1.0, gt=0, le=30)       # how long a join waits for the other processes
    retry_interval: float = Field(0.5, gt=0, le=60)
    warm_from_archive: bool = True                       # fill an empty store from the archive at start
    pages: list[str] = ["/groupchat", "/chat"]           # pages that show the history (ctx.extend_page)


def setup(ctx: PluginContext) -> None:
    """Record room and everybody messages, answer joins with the history, warm from the archive."""
    cfg: Config = ctx.config
    recorder = Recorder(ctx.store, capacity=cfg.buffer_size, max_messages=cfg.max_messages,
                        max_age=cfg.max_age, max_rooms=cfg.max_rooms, retry_interval=cfg.retry_interval,
                        logger=ctx.logger)
    figures = {"joins": 0, "served": 0, "cut": 0, "flush_timeouts": 0, "read_errors": 0, "warmed": 0}
    tasks: list[asyncio.Task] = []

    @ctx.before_send
    def record(msg: Outgoing) -> None:
        # Queued here, before the message leaves this process: the flush barrier relies on it.
        if msg.id is None or msg.to is not None or msg.namespace != "/":
            return None
        if msg.room is not None and msg.event == cfg.room_event and len(msg.args) == 2:
            recorder.add(msg.room, {"id": msg.id, "nickName": None, "msg": msg.args[1], "at": now_ms()},
                         msg.sender)
        elif msg.room is None and msg.event == cfg.chat_event and len(msg.args) == 1 and cfg.everybody_chat:
            recorder.add(None, {"id": msg.id, "nickName": None, "msg": msg.args[0], "at": now_ms()}, None)
        return None

    @ctx.subscribe(MessageSent)
    async def nickname(event: MessageSent) -> None:
        if event.room is not None:
            recorder.nickname(event.sid, event.room, event.nickname)

    @ctx.cluster.reply(FLUSH_TOPIC)
    async def flush(payload) -> bool:
        return await recorder.flush(cfg.flush_timeout)

    async def read(room: str | None) -> list[dict]:
        items = await ctx.store.list_range(room_key(room))
        cutoff = now_ms() - cfg.max_age * 1000
        seen: set = set()
        out = []
        for item in items:  # a warm that raced another process may have doubled some: show each once
            if isinstance(item, dict) and item.get("id") not in seen and item.get("at", 0) >= cutoff:
                seen.add(item.get("id"))
                out.append(item)
        return out[-cfg.max_messages:]

    @ctx.on_join()
    async def greet(join: Join):
        """Send the joiner the history of what it joined; the ids sent are cut from the held live messages."""
        if join.recovered or (join.room is None and not cfg.everybody_chat):
            return None  # a restored connection keeps its page; it gets no history again
        figures["joins"] += 1
        try:
            answers = await ctx.cluster.request(FLUSH_TOPIC, {}, timeout=cfg.flush_timeout)
            if not all(answer is True for answer in answers):
                figures["flush_timeouts"] += 1
        except Exception as exc:  # the backplane's errors: serve what the store has
            figures["flush_timeouts"] += 1
            ctx.logger.debug("history: flush request failed: %s", exc)
        try:
            items = await read(join.room)
        except Exception as exc:
            figures["read_errors"] += 1
            ctx.logger.warning("history: could not read the history of %s: %s: %s",
                               join.room or "the everybody-chat", type(exc).__name__, exc)
            items = []
        # id: core's message id, also the archive's key (the pages' "load earlier" continues below it).
        shown = [{"nickName": i.get("nickName"), "msg": i.get("msg"), "at": i.get("at"), "id": i.get("id")}
                 for i in items]
        if join.room is None:
            await ctx.emit("chatHistory", shown, to=join.sid)
        else:
            await ctx.emit("groupHistory", join.room, shown, to=join.sid)
        figures["served"] += 1
        return {i.get("id") for i in items}

    # Warming from the archive when the store is empty (a first start, Redis restarted empty).

    async def warm() -> None:
        try:
            if await ctx.store.set_add(WARM_MARKER, "done") != 1:
                return  # another process (or an earlier start on this store) did it
            if await ctx.store.list_len(EVERYBODY_KEY) or await ctx.store.hash_get_all(ROOMS_KEY):
                return
            answers = await ctx.cluster.request(WARM_TOPIC, {"rooms": cfg.max_rooms, "per_room": cfg.max_messages,
                                                             "max_age": cfg.max_age, "wait": 5}, timeout=10)
        except Exception as exc:
            ctx.logger.warning("history: warming from the archive failed: %s: %s", type(exc).__name__, exc)
            return
        recent = next((a for a in answers if isinstance(a, dict)), None)
        if recent is None:
            return  # no archive in this cluster
        count = 0
        for room, items in recent.items():
            key_room = None if room == "" else room
            for item in items:
                await ctx.store.list_push(room_key(key_room), item, cfg.max_messages, ttl=cfg.max_age)
                count += 1
            if key_room is not None and items:
                await ctx.store.hash_set(ROOMS_KEY, key_room, items[-1]["at"])
        await ctx.store.expire(ROOMS_KEY, cfg.max_age)
        await recorder.enforce_room_cap()
        figures["warmed"] = count
        ctx.logger.info("history: warmed %d message(s) of %d room(s) from the archive", count, len(recent))

    @ctx.on_startup
    async def start() -> None:
        tasks.append(asyncio.create_task(recorder.run(), name="history-writer"))
        if cfg.warm_from_archive:
            tasks.append(asyncio.create_task(warm(), name="history-warm"))

    @ctx.on_shutdown
    async def stop() -> None:
        await recorder.flush(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @ctx.health
    def health() -> dict:
        return {"ok": recorder.store_up, **recorder.health(), **figures}

    for page in cfg.pages:
        ctx.extend_page(page, script="history.js", style="history.css")

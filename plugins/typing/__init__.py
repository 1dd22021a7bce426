"""'X is typing…': typing(roomId, true|false) from a member reaches the room's other members, rate-capped.

Nothing is stored: the state of each connection lives in its session on its own process, and
pushes go to the room on every process through ctx.emit.
"""

from __future__ import annotations

import asyncio
import time

from core.api import ClientError, Field, Param, PluginConfig, PluginContext, RoomEntered, RoomEvent, RoomLeft, text

from .throttle import Typist

name = "typing"


class Config(PluginConfig):
    """Options of the typing indicator."""

    # Seconds between two pushes about one connection in one room, whatever it sends.
    min_interval: float = Field(2.0, ge=0.1, le=60)
    # Seconds after which a "true" that was not refreshed turns false by itself.
    expiry: float = Field(5.0, ge=1, le=300)
    # The page that shows "X is typing…" (group_chat's); null when that page is not served.
    page: str | None = "/groupchat"


def boolean(value) -> str | None:
    """A check for Param: true or false."""
    return None if isinstance(value, bool) else "must be true or false"


def setup(ctx: PluginContext) -> None:
    """Register typing(roomId, typing), follow room entries for nicknames, add the indicator to the page."""
    cfg: Config = ctx.config
    timers: dict[tuple[str, str], asyncio.TimerHandle] = {}  # this process's pending checks
    tasks: set[asyncio.Task] = set()

    def in_room(sid: str, room: str) -> bool:
        try:
            return room in ctx.rooms(sid)
        except (KeyError, ValueError):
            return False

    async def push(sid: str, room: str, nick: str, typing: bool) -> None:
        await ctx.emit("typing", room, nick, typing, room=room, skip_sid=sid, sender=sid)

    def schedule(sid: str, room: str, delay: float | None) -> None:
        old = timers.pop((sid, room), None)
        if old is not None:
            old.cancel()
        if delay is not None:
            def fire():
                timers.pop((sid, room), None)
                task = asyncio.get_running_loop().create_task(settle(sid, room), name="typing-check")
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            timers[(sid, room)] = asyncio.get_running_loop().call_later(delay, fire)

    async def settle(sid: str, room: str) -> None:
        """Push what is due for sid in room and schedule the next check."""
        try:
            async with ctx.session(sid) as state:
                typist: Typist | None = state.get("typists", {}).get(room)
                if typist is None:
                    return
                now = time.monotonic()
                value, wait = typist.next_step(now, cfg.min_interval)
                nick = typist.nick
            schedule(sid, room, wait)
            if value is not None:
                await push(sid, room, nick, value)
        except KeyError:  # the connection is gone
            schedule(sid, room, None)
        except Exception:
            ctx.logger.exception("typing: could not update room %r for %s", room, ctx.describe(sid))

    async def stop(sid: str, room: str, state: dict) -> None:
        """sid leaves room (or takes a new nickname there): a pushed "true" becomes "false" at once."""
        schedule(sid, room, None)
        typist: Typist | None = state.get("typists", {}).pop(room, None)
        if typist is not None and typist.pushed:
            await push(sid, room, typist.nick, False)

    # One subscription for both kinds: entries and leaves arrive in the order they happened.
    @ctx.subscribe(RoomEvent)
    async def followed(event: RoomEvent) -> None:
        try:
            async with ctx.session(event.sid) as state:
                rooms = state.setdefault("rooms", {})
                if isinstance(event, RoomLeft):  # also before a rename's RoomEntered
                    rooms.pop(event.room, None)
                    await stop(event.sid, event.room, state)
                elif isinstance(event, RoomEntered):
                    rooms[event.room] = event.nickname
        except KeyError:
            pass  # disconnected meanwhile: on_disconnect did the rest

    @ctx.on_disconnect
    async def disconnected(sid: str, reason) -> None:
        async with ctx.session(sid) as state:
            for room in list(state.get("typists", {})):
                await stop(sid, room, state)
            state.pop("rooms", None)

    @ctx.on("typing", Param("roomId", text(1024)), Param("typing", boolean))
    async def typing(sid: str, room: str, is_typing: bool):
        async with ctx.session(sid) as state:
            nick = state.get("rooms", {}).get(room)
            if not in_room(sid, room):
                raise ClientError(f"typing: you are not in room {room!r}; send entry first", kind="not_member")
            if nick is None:  # the entry's event has not reached this plugin yet (a few ms)
                raise ClientError(f"typing: your entry to room {room!r} is still being processed; "
                                  f"try again")
            typist = state.setdefault("typists", {}).get(room)
            if typist is None:
                typist = state["typists"][room] = Typist(nick)
            now = time.monotonic()
            typist.says(is_typing, now, cfg.expiry)
            value, wait = typist.next_step(now, cfg.min_interval)
        schedule(sid, room, wait)
        if value is not None:
            await push(sid, room, nick, value)

    @ctx.on_shutdown
    async def cancel_timers() -> None:
        for handle in timers.values():
            handle.cancel()
        timers.clear()
        for task in list(tasks):
            task.cancel()

    if cfg.page:
        ctx.extend_page(cfg.page, script="typing.js", style="typing.css")

"""Test plugin using the cluster layer: cluster events, ProcessDown, ctx.store, ctx.cluster queries."""

import time
from dataclasses import asdict, dataclass
from typing import ClassVar

from core.api import Event, Param, PluginContext, ProcessDown, any_json, text

name = "cluster_probe"


@dataclass(frozen=True, kw_only=True)
class Ping(Event):
    """A test event sent to every process."""

    name: ClassVar[str] = "probe.cluster.ping"
    origin: str
    n: int


def setup(ctx: PluginContext) -> None:
    received: list = []
    down: list = []
    key, value, room = Param("key", text(100)), Param("value", any_json(1000)), Param("room", text(64))

    @ctx.subscribe(Ping)
    async def on_ping(event: Ping):
        received.append([event.origin, event.n, event.plugin])

    @ctx.subscribe(ProcessDown)
    async def on_down(event: ProcessDown):
        down.append(event.process_id)

    @ctx.on("probe_publish", Param("count", any_json(10)))
    async def publish(sid, count):
        for n in range(count):
            await ctx.publish(Ping(origin=ctx.cluster.process_id, n=n), cluster=True)

    @ctx.on("probe_seen")
    async def seen(sid):
        return {"process": ctx.cluster.process_id, "events": received, "down": down,
                "processes": await ctx.cluster.processes()}

    @ctx.cluster.reply("who")
    async def who(payload):
        return {"process": ctx.cluster.process_id, "echo": payload}

    @ctx.on("probe_ask", Param("timeout", any_json(10)))
    async def ask(sid, timeout):
        started = time.monotonic()
        answers = await ctx.cluster.request("who", {"q": 1}, timeout=timeout)
        return {"answers": answers, "elapsed": time.monotonic() - started}

    @ctx.on("probe_join", room, Param("nick", text(32)))
    async def join(sid, room, nick):
        async with ctx.session(sid) as state:
            state["nick"] = nick
        await ctx.enter_room(sid, room)

    @ctx.on("probe_room", room)
    async def room_sockets(sid, room):
        sockets = await ctx.cluster.room_sockets(room)
        return {"sockets": [asdict(s) for s in sockets], "count": await ctx.cluster.room_count(room)}

    @ctx.on("probe_set", key, value, Param("ttl", any_json(20)))
    async def store_set(sid, key, value, ttl):
        await ctx.store.set(key, value, ttl=ttl)

    @ctx.on("probe_get", key)
    async def store_get(sid, key):
        return {"value": await ctx.store.get(key)}

    @ctx.on("probe_push", key, value)
    async def store_push(sid, key, value):
        return {"length": await ctx.store.list_push(key, value, cap=3)}

    @ctx.on("probe_list", key)
    async def store_list(sid, key):
        return {"items": await ctx.store.list_range(key)}

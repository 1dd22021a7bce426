"""Test plugin exercising the public API: rooms across plugins, Rest, binary, Ack, namespaces, hooks."""

from dataclasses import dataclass
from typing import ClassVar

from core.api import (Ack, ClientError, ConnectionRefused, Event, Param, PluginContext, Rest, any_json, binary,
                      json_response, text)

name = "api_probe"


@dataclass(frozen=True, kw_only=True)
class Poked(Event):
    """A custom internal event."""

    name: ClassVar[str] = "probe.poke.sent"
    value: int


def setup(ctx: PluginContext) -> None:
    state = {"started": False, "before_send": {}, "poked": []}
    room_name = Param("room", text(64))

    # Rooms across plugins ------------------------------------------------------------------
    @ctx.on("probe_room_emit", room_name, Rest("args", any_json(1000)))
    async def room_emit(sid, room, *args):
        await ctx.emit("probe_room_event", *args, room=room, sender=sid)

    @ctx.on("probe_rooms")
    async def rooms(sid):
        return {"rooms": ctx.rooms(sid)}

    @ctx.on("probe_enter", room_name)
    async def enter(sid, room):
        await ctx.enter_room(sid, room)

    @ctx.on("probe_leave", room_name)
    async def leave(sid, room):
        await ctx.leave_room(sid, room)

    @ctx.on("probe_to", Param("sid", text(64)), Rest("args", any_json(1000)))
    async def to(sid, target, *args):
        await ctx.emit("probe_direct", *args, to=target)

    @ctx.on("probe_kick")
    async def kick(sid):
        await ctx.disconnect(sid)

    # Handlers: Rest, binary, acks ---------------------------------------------------------
    @ctx.on("probe_variadic", Param("first", text(16)), Rest("more", any_json(1000), max_count=3))
    async def variadic(sid, first, *more):
        return {"first": first, "more": list(more)}

    @ctx.on("probe_raw_ack", Rest("values", any_json(1000)))
    async def raw_ack(sid, *values):
        return Ack(*values)

    @ctx.on("probe_binary", Param("label", text(16)), Param("blob", binary(1024)))
    async def reverse(sid, label, blob):
        await ctx.emit("probe_binary_echo", label, bytes(blob), to=sid)
        return Ack(bytes(reversed(blob)), len(blob))

    @ctx.on("probe_bug")
    async def bug(sid):
        raise RuntimeError("probe bug")

    @ctx.on("probe_bad_return")
    async def bad_return(sid):
        return ["not", "an", "ack"]

    @ctx.on("probe_refuse")
    async def refuse(sid):
        raise ClientError("refused on purpose")

    # before_send: once per message; refuse or rewrite broadcasts ------------------------------
    @ctx.before_send
    def moderate(msg):
        if msg.event != "receiveAll" or not msg.args or not isinstance(msg.args[0], str):
            return None
        state["before_send"][msg.args[0]] = state["before_send"].get(msg.args[0], 0) + 1
        if msg.args[0] == "forbidden":
            raise ClientError("message refused by api_probe")
        if msg.args[0] == "rewrite me":
            return msg.replace(args=("rewritten",))
        return None

    # Namespaces ----------------------------------------------------------------------------
    @ctx.on_connect(namespace="/probe")
    async def welcome(sid, environ, auth):
        if isinstance(auth, dict) and auth.get("refuse"):
            raise ConnectionRefused("not welcome in /probe")
        await ctx.emit("welcome", "hello /probe", to=sid, namespace="/probe")

    @ctx.on("where", namespace="/probe")
    async def where(sid):
        async with ctx.session(sid, namespace="/probe") as part:
            part["calls"] = part.get("calls", 0) + 1
        return {"namespace": "/probe", "calls": part["calls"], "address": ctx.client_address(sid, "/probe")}

    @ctx.on("probe_bug", namespace="/probe")
    async def bug_in_namespace(sid):
        raise RuntimeError("probe bug in /probe")

    # Internal events, lifecycle, routes, pages -----------------------------------------------
    @ctx.on("probe_poke", Param("value", any_json(100)))
    async def poke(sid, value):
        await ctx.publish(Poked(value=value), cluster=True)

    @ctx.subscribe(Poked)
    async def poked(event):
        state["poked"].append({"value": event.value, "plugin": event.plugin})

    @ctx.on_startup
    async def started():
        state["started"] = True

    @ctx.on_shutdown
    async def stopping():
        ctx.logger.info("api_probe shutdown hook ran")

    async def show(request):
        return state

    async def teapot(request):
        return json_response({"ok": False}, status=418)

    ctx.add_route(show, "/probe/state")
    ctx.add_route(teapot, "/probe/teapot", methods=("GET", "POST"))
    ctx.extend_page("/groupchat", script="probe.js", style="probe.css")

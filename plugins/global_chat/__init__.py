"""Everybody-chat: every message goes to every connected client, the sender included."""

from __future__ import annotations

from core.api import MessageSent, Param, PluginConfig, PluginContext, any_json, json_object

name = "global_chat"


class Config(PluginConfig):
    """Options of the global chat."""

    title: str | None = None  # None: "title" of messages/<lang>.json, in the page's language


def setup(ctx: PluginContext) -> None:
    """Register broadcast/test1/test2 and the /chat pages."""
    limit = ctx.server.max_message_size

    async def relay(sid: str, socket_event: str, reply: str, *args) -> None:
        message_id = await ctx.emit(reply, *args, sender=sid)
        await ctx.publish(MessageSent(socket_event=socket_event, room=None, sid=sid,
                                      address=ctx.client_address(sid), args=list(args),
                                      message_id=message_id))

    @ctx.on("broadcast", Param("msg", any_json(limit)))
    async def broadcast(sid, msg):
        await relay(sid, "broadcast", "receiveAll", msg)

    @ctx.on("test1", Param("a", any_json(limit)), Param("b", any_json(limit)))
    async def test1(sid, a, b):
        await relay(sid, "test1", "receive1", a, b)

    @ctx.on("test2", Param("obj", json_object(limit)))
    async def test2(sid, obj):
        await relay(sid, "test2", "receive2", obj)

    ctx.add_page("/chat", "chat.html", ctx.config.title, standalone_path="/chat.html")

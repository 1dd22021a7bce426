"""Test plugin: the hooks tests/core/sio/node_wire.js adds to the Node server, for the wire tests.

auth {"greet": true} gets `welcome("hi")` from the connect hook; {"refuse": true[, "data": x]}
is refused with "go away" (and that data); `echo(*args)` emits `echoed(*args)` back and answers
the same arguments as its ack (binary attachments included).
"""

from core.api import Ack, ConnectionRefused, PluginContext, Rest


def anything(value) -> None:
    """Every value passes: the wire tests send JSON and bytes alike."""
    return None


def setup(ctx: PluginContext) -> None:
    @ctx.on_connect
    async def hook(sid, environ, auth):
        auth = auth if isinstance(auth, dict) else {}
        if auth.get("refuse"):
            raise ConnectionRefused("go away", auth["data"]) if "data" in auth else ConnectionRefused("go away")
        if auth.get("greet"):
            await ctx.emit("welcome", "hi", to=sid)

    @ctx.on("echo", Rest("args", anything))
    async def echo(sid, *args):
        await ctx.emit("echoed", *args, to=sid)
        return Ack(*args)

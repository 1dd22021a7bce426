"""Test plugin: handles the event `shout` (clashes with clash_two)."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    @ctx.on("shout")
    async def shout(sid):
        return {"ok": True, "by": "clash_one"}

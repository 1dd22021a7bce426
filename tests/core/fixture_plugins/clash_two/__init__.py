"""Test plugin: also handles the event `shout` (clashes with clash_one)."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    @ctx.on("shout")
    async def shout(sid):
        return {"ok": True, "by": "clash_two"}

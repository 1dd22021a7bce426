"""Test plugin that tries to handle the reserved event `disconnect` with ctx.on."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    @ctx.on("disconnect")
    async def gone(sid):
        return None

"""Test plugin that subscribes to an internal event name of the wrong shape."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    @ctx.subscribe("message-sent")
    async def on_sent(**payload):
        return None

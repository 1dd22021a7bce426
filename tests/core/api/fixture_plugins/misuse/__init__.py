"""Test plugin: misuses the API in setup (a namespace without its slash), two calls deep."""

from core.api import PluginContext


def register(ctx: PluginContext) -> None:
    @ctx.on("hello", namespace="admin")
    async def hello(sid):
        return None


def setup(ctx: PluginContext) -> None:
    register(ctx)

"""Test plugin: serves a route at /chat, which global_chat's page already has."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    async def mine(request):
        return "mine"

    ctx.add_route(mine, "/chat")
    ctx.add_route(mine, "/healthz")

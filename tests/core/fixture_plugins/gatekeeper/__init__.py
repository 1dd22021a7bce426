"""Test plugin: refuses connections whose auth says {"refuse": true} with "go away"."""

from core.api import ConnectionRefused, PluginContext


def setup(ctx: PluginContext) -> None:
    @ctx.on_connect
    async def check(sid, environ, auth):
        if isinstance(auth, dict) and auth.get("refuse"):
            raise ConnectionRefused("go away")

"""Test plugin whose setup fails."""

from core.plugin import PluginContext


def setup(ctx: PluginContext) -> None:
    raise RuntimeError("database unreachable")

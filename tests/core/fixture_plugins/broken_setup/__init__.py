"""Test plugin whose setup fails."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    raise RuntimeError("database unreachable")

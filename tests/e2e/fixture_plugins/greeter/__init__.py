"""Adds a line to /chat in the page's language, from its own catalogue (an extension's words)."""

from core.api import PluginContext

name = "greeter"


def setup(ctx: PluginContext) -> None:
    """Extend /chat with static/greeter.js."""
    ctx.extend_page("/chat", script="greeter.js")

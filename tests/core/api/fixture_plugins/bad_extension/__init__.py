"""Test plugin: extends a page that does not exist, and another page with a file it does not have."""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    ctx.extend_page("/nowhere", script="ok.js")
    ctx.extend_page("/groupchat", style="missing.css")

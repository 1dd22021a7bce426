"""Test plugin that subscribes to an internal event whose name has the wrong shape."""

from dataclasses import dataclass
from typing import ClassVar

from core.api import Event, PluginContext


@dataclass(frozen=True, kw_only=True)
class MessageWasSent(Event):
    name: ClassVar[str] = "message-sent"


def setup(ctx: PluginContext) -> None:
    @ctx.subscribe(MessageWasSent)
    async def on_sent(event):
        return None

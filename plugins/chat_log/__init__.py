"""Example event plugin: listens to the chat's internal events and serves the latest ones as JSON."""

from __future__ import annotations

from collections import deque

from core.api import Field, MessageSent, PluginConfig, PluginContext, RoomEntered, RoomLeft, as_dict

name = "chat_log"


class Config(PluginConfig):
    """How many events to keep, and whether to write each to the log."""

    keep: int = Field(100, ge=1, le=100_000)
    log_each: bool = True
    path: str = "/chatlog"


def setup(ctx: PluginContext) -> None:
    """Subscribe to the chat events; GET <path> returns counts and the latest events."""
    recent: deque[dict] = deque(maxlen=ctx.config.keep)
    kinds = (MessageSent, RoomEntered, RoomLeft)
    counts = {kind.name: 0 for kind in kinds}

    async def record(event):
        counts[event.name] += 1
        fields = as_dict(event)
        recent.append({"event": event.name, **fields})
        if ctx.config.log_each:
            ctx.logger.info("%s %s", event.name, {k: v for k, v in fields.items() if k != "args"})

    for kind in kinds:
        ctx.subscribe(kind)(record)

    async def show(request):
        return {"counts": counts, "recent": list(recent)}

    ctx.add_route(show, ctx.config.path)

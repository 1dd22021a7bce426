"""Example event plugin: listens to the chat's internal events and serves the latest ones as JSON."""

from __future__ import annotations

from collections import deque

from pydantic import Field
from sanic import Request
from sanic.response import json

from core.api import MESSAGE_SENT, ROOM_ENTERED, ROOM_LEFT, PluginConfig, PluginContext

name = "chat_log"


class Config(PluginConfig):
    """How many events to keep, and whether to write each to the log."""

    keep: int = Field(100, ge=1, le=100_000)
    log_each: bool = True
    path: str = "/chatlog"


def setup(ctx: PluginContext) -> None:
    """Subscribe to the chat events; GET <path> returns counts and the latest events."""
    recent: deque[dict] = deque(maxlen=ctx.config.keep)
    counts = {MESSAGE_SENT: 0, ROOM_ENTERED: 0, ROOM_LEFT: 0}

    def record(event: str):
        async def on_event(**payload):
            counts[event] += 1
            recent.append({"event": event, **payload})
            if ctx.config.log_each:
                ctx.logger.info("%s %s", event, {k: v for k, v in payload.items() if k != "args"})

        return on_event

    for event in counts:
        ctx.subscribe(event)(record(event))

    async def show(request: Request):
        return json({"counts": counts, "recent": list(recent)})

    ctx.app.add_route(show, ctx.config.path, methods=["GET"], name="chat_log")

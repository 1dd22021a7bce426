"""Test plugin: records chat.message.sent and chat.room.entered; GET /event_spy shows them."""

from sanic.response import json

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    seen: list[dict] = []

    def record(event: str):
        async def on_event(**payload):
            seen.append({"signal": event, "payload": payload})

        return on_event

    for event in ("chat.message.sent", "chat.room.entered"):
        ctx.subscribe(event)(record(event))

    async def show(request):
        return json(seen)

    ctx.app.add_route(show, "/event_spy", methods=["GET"], name="event_spy")

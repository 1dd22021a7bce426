"""Test plugin: records chat.message.sent and chat.room.entered; GET /event_spy shows them."""

from core.api import MessageSent, PluginContext, RoomEntered, as_dict


def setup(ctx: PluginContext) -> None:
    seen: list[dict] = []

    async def record(event):
        seen.append({"signal": event.name, "payload": as_dict(event)})

    for kind in (MessageSent, RoomEntered):
        ctx.subscribe(kind)(record)

    async def show(request):
        return seen

    ctx.add_route(show, "/event_spy")

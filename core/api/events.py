"""Internal events between plugins, carried by Sanic signals (`chat.message.sent`, ...)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from sanic import Sanic

# Events core promises to carry; plugins may publish others of the same three-part shape.
MESSAGE_SENT = "chat.message.sent"
ROOM_ENTERED = "chat.room.entered"
ROOM_LEFT = "chat.room.left"


def check_event_name(event: str) -> None:
    """Sanic signals are three dot-separated parts; say so before Sanic does, less cryptically."""
    parts = event.split(".")
    if len(parts) != 3 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"internal event names have three dot-separated parts, like "
                         f"{MESSAGE_SENT!r}; got {event!r}")


class EventBus:
    """Publish and subscribe on the app's signal router."""

    def __init__(self, app: Sanic, logger: logging.Logger):
        self._app = app
        self._log = logger
        self._subscribed: set[str] = set()

    def subscribe(self, event: str, handler: Callable[..., Awaitable[Any]]) -> None:
        """Call handler(**payload) for each publish of event (must happen before the app starts)."""
        check_event_name(event)

        async def deliver(**payload: Any) -> None:
            try:
                await handler(**payload)
            except Exception:
                # A subscriber's bug must not reach the publisher nor other subscribers.
                self._log.exception("subscriber %s of %s failed", handler.__qualname__, event)

        deliver.__qualname__ = f"deliver_{event}_{handler.__qualname__}"
        self._app.add_signal(deliver, event)
        self._subscribed.add(event)

    async def publish(self, event: str, /, **payload: Any) -> None:
        """Hand payload to every subscriber of event without waiting for them."""
        check_event_name(event)
        if event in self._subscribed:  # a dispatch nobody listens to still costs a router miss
            await self._app.dispatch(event, context=payload, fail_not_found=False, inline=False)

"""Public room names shared by every plugin, and the messages that go out to them.

A public room `room1` is the Socket.IO room `room:room1`. python-socketio also puts each client
in a room named after its sid; sids are URL-safe base64 (letters, digits, `-`, `_`), never
containing `:`, so no public room name can address a client's own room, on any process.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Awaitable, Callable

ROOM_PREFIX = "room:"


def room_key(room: str) -> str:
    """The internal Socket.IO room of a public room name."""
    if not isinstance(room, str) or not room:
        raise ValueError(f"a room name is a non-empty string, not {room!r}")
    return ROOM_PREFIX + room


def audience_key(room: str, lang: str) -> str:
    """The internal room of the members of a public room who read lang (for ctx.emit_localised).

    Its prefix is not ROOM_PREFIX, so public_rooms() leaves it out, and no sid has a ':'.
    """
    return f"lang:{lang}:{room_key(room)}"


def public_rooms(internal: list) -> list[str]:
    """The public names among a client's internal Socket.IO rooms (its sid room left out)."""
    return [r[len(ROOM_PREFIX):] for r in internal if isinstance(r, str) and r.startswith(ROOM_PREFIX)]


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """A message about to go out: event, args, room or to (None both: everybody), sender, namespace."""

    event: str
    args: tuple
    room: str | None = None  # public room name
    sender: str | None = None  # the sid whose request this message answers, if any
    to: str | None = None  # one client's sid
    namespace: str = "/"
    # Room and broadcast messages get an id from core, the same on every process that delivers
    # them (a plugin that stored the message can tell it apart from a held live copy: ctx.on_join).
    id: str | None = None

    def replace(self, **changes: Any) -> "Outgoing":
        """A copy with some fields changed (for before_send hooks that rewrite a message)."""
        return dataclasses.replace(self, **changes)


BeforeSend = Callable[[Outgoing], "Outgoing | None | Awaitable[Outgoing | None]"]


async def run_before_send(hooks: list[BeforeSend], msg: Outgoing) -> Outgoing:
    """Pass msg through every hook in order; a hook returns a new Outgoing, None (unchanged) or raises."""
    for hook in hooks:
        result = hook(msg)
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            if not isinstance(result, Outgoing):
                raise TypeError(f"before_send hook {hook.__qualname__} returned {type(result).__name__}, "
                                f"not Outgoing or None")
            msg = result
    return msg

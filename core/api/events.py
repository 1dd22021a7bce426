"""Typed internal events between plugins: dataclasses published with ctx.publish, handled by ctx.subscribe."""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from typing import Any, Awaitable, Callable, ClassVar

from core.base.tasks import TaskSet

# Events a subscriber has not handled yet; beyond this the oldest are dropped, counted and logged.
MAX_BACKLOG = 10_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every internal event; `plugin` is filled in by ctx.publish with the publisher's name."""

    name: ClassVar[str] = ""  # three dot-separated parts, like "chat.message.sent"
    plugin: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageSent(Event):
    """A chat message went out: socket_event, room (None: everybody), sid, address, args, nickname."""

    name: ClassVar[str] = "chat.message.sent"
    socket_event: str  # the client's event: broadcast, test1, test2, groupmsg, ...
    room: str | None  # the public room name, None for everybody-chat
    sid: str
    address: str
    args: list  # the event's arguments as the client sent them
    nickname: str | None = None  # in rooms
    message_id: str | None = None  # the id ctx.emit gave the relayed message (Outgoing.id)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RoomEvent(Event):
    """Base of RoomEntered and RoomLeft: subscribe to it to get both in the order they were published."""

    name: ClassVar[str] = "chat.room.changed"
    room: str
    nickname: str
    sid: str
    address: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RoomEntered(RoomEvent):
    """A connection entered a room, or took a new nickname in it (after a RoomLeft "renamed"): room, nickname, sid, address."""

    name: ClassVar[str] = "chat.room.entered"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RoomLeft(RoomEvent):
    """A connection left a room: reason "left", a disconnect's reason, or "renamed" (a RoomEntered follows)."""

    name: ClassVar[str] = "chat.room.left"
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProcessDown(Event):
    """Another server process stopped answering (published by the cluster layer): process_id."""

    name: ClassVar[str] = "chat.process.down"
    process_id: str


def check_event_class(cls: Any) -> None:
    """Refuse what is not an Event dataclass with a three-part name, before the server starts."""
    if not (isinstance(cls, type) and issubclass(cls, Event) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"internal events are Event dataclasses such as MessageSent, not {cls!r}")
    parts = cls.name.split(".")
    if len(parts) != 3 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"internal event names have three dot-separated parts, like "
                         f"{MessageSent.name!r}; {cls.__name__}.name is {cls.name!r}")


class _Subscriber:
    """One handler's queue: events reach it one at a time, in the order they were published."""

    __slots__ = ("handler", "backlog", "running", "dropped")

    def __init__(self, handler: Callable[[Event], Awaitable[Any]]):
        self.handler = handler
        self.backlog: deque[Event] = deque()
        self.running = False
        self.dropped = 0


class EventBus:
    """Delivers published events to the subscribers of their class (and of its base classes)."""

    def __init__(self, tasks: TaskSet, logger: logging.Logger):
        self._tasks = tasks
        self._log = logger
        self._subscribers: dict[type, list[_Subscriber]] = {}
        self._checked: set[type] = set()
        # Set by the cluster layer: async remote(event) carries an event to every process.
        # Without one (the memory backplane) this process is the whole cluster.
        self.remote: Callable[[Event], Awaitable[None]] | None = None

    def subscribe(self, cls: type, handler: Callable[[Event], Awaitable[Any]]) -> None:
        """Call handler(event) for each published event of cls."""
        check_event_class(cls)
        self._subscribers.setdefault(cls, []).append(_Subscriber(handler))

    def deliver(self, event: Event) -> None:
        """Queue event for this process's subscribers without waiting for them."""
        for cls in type(event).__mro__:
            for sub in self._subscribers.get(cls, ()):
                if len(sub.backlog) >= MAX_BACKLOG:
                    sub.backlog.popleft()
                    sub.dropped += 1
                    if sub.dropped == 1 or sub.dropped % 1000 == 0:
                        self._log.warning("subscriber %s of %s is behind: %d events dropped",
                                          sub.handler.__qualname__, event.name, sub.dropped)
                sub.backlog.append(event)
                if not sub.running:
                    sub.running = True
                    self._tasks.spawn(self._drain(sub), name=f"event:{sub.handler.__qualname__}")

    async def _drain(self, sub: _Subscriber) -> None:
        try:
            while sub.backlog:
                event = sub.backlog.popleft()
                try:
                    await sub.handler(event)
                except Exception:
                    # A subscriber's bug must not reach the publisher nor other subscribers.
                    self._log.exception("subscriber %s of %s failed", sub.handler.__qualname__, event.name)
        finally:
            sub.running = False

    async def publish(self, event: Event, *, cluster: bool = False) -> None:
        """Deliver event here, or with cluster=True to every process (once each)."""
        if type(event) not in self._checked:
            check_event_class(type(event))
            self._checked.add(type(event))
        if cluster and self.remote is not None:
            await self.remote(event)
        else:
            self.deliver(event)


def as_dict(event: Event) -> dict[str, Any]:
    """The event's fields (for JSON, logs)."""
    return dataclasses.asdict(event)

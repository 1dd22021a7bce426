"""Message ids, and holds: a joining socket's live deliveries of one room kept back until released.

Why: a plugin that sends a joiner what was said before it came (history) must send it *before*
any live message of that room, and without a message that is both in what it sent and live.
A hold is put on the socket before it joins the room; from then on this process's deliveries
of that room to that socket are buffered here with the id of each message; `release(skip)`
delivers the buffer in order minus the messages whose ids the plugin already sent, and ends
the hold. The id of a message is the same on every process (the backplane carries it), so a
plugin can match what it read from the shared store against what was held.

A hold is bounded (`capacity` messages); a socket whose hold overflows is disconnected by the
releaser rather than shown a gap.
"""

from __future__ import annotations

import itertools
import os
from contextvars import ContextVar

from core.sio.internals import namespace_rooms

# The id of the message being delivered: set by ctx.emit for room and broadcast emits, and by
# the backplane around deliveries of other processes' messages. None for anything else.
MESSAGE_ID: ContextVar[str | None] = ContextVar("chat_message_id", default=None)

_process_tag = os.urandom(5).hex()  # per process: ids of two processes never collide
_counter = itertools.count(1)


def new_message_id() -> str:
    """A message id unique across processes and restarts (process tag and a counter)."""
    return f"{_process_tag}-{next(_counter)}"


def covered_by(skip_ids) -> "callable":
    """is_covered(mid): mid is in skip_ids, or an id of the same process with a higher counter is.

    A join hook that returns ids says it covered those messages and everything its process sent
    before them (history shows the last N: whatever fell out of that window is older than what
    it shows, and must not arrive live after it either).
    """
    latest: dict[str, int] = {}
    for mid in skip_ids:
        tag, _, n = str(mid).rpartition("-")
        if tag and n.isdigit() and int(n) > latest.get(tag, -1):
            latest[tag] = int(n)

    def is_covered(mid) -> bool:
        if mid is None:
            return False
        if mid in skip_ids:
            return True
        tag, _, n = mid.rpartition("-")
        return bool(tag) and n.isdigit() and int(n) <= latest.get(tag, -1)

    return is_covered


class Hold:
    """One socket's held deliveries of one room (None: the namespace's broadcasts)."""

    __slots__ = ("sid", "namespace", "room", "capacity", "buffer", "overflowed", "_holds")

    def __init__(self, holds: "Holds", sid: str, namespace: str, room: str | None, capacity: int):
        self.sid, self.namespace, self.room, self.capacity = sid, namespace, room, capacity
        self.buffer: list[tuple[str, object, str | None]] = []  # (event, data, message id)
        self.overflowed = False
        self._holds = holds

    def covers(self, namespace: str, room) -> bool:
        """Whether an emit to room (a name, a list of names, or None: everybody) is held here."""
        if namespace != self.namespace:
            return False
        if self.room is None:
            return room is None
        return room == self.room or (isinstance(room, list) and self.room in room)

    def keep(self, event: str, data) -> None:
        if len(self.buffer) >= self.capacity:
            self.overflowed = True  # what follows is not kept: the releaser disconnects the socket
            return
        self.buffer.append((event, data, MESSAGE_ID.get()))

    async def release(self, manager, skip_ids=frozenset()) -> int:
        """Deliver what was held, in order, minus what skip_ids cover (covered_by); end the hold.

        Returns how many went out.
        """
        covered = covered_by(skip_ids)
        sent = 0
        try:
            # The hold stays on while the buffer drains, so a message arriving meanwhile queues
            # behind the held ones instead of overtaking them.
            while self.buffer and not self.overflowed:
                event, data, mid = self.buffer.pop(0)
                if covered(mid):
                    continue
                await manager.emit(event, data, self.namespace, room=self.sid, ignore_queue=True)
                sent += 1
        finally:
            self.cancel()
        return sent

    def cancel(self) -> None:
        """End the hold without delivering anything (the connection was refused or is gone)."""
        self._holds.remove(self)
        self.buffer.clear()


class Holds:
    """The holds of one manager's sockets; `active` is False on the fast path (no holds)."""

    def __init__(self):
        self._by_sid: dict[str, list[Hold]] = {}

    @property
    def active(self) -> bool:
        return bool(self._by_sid)

    def add(self, sid: str, namespace: str, room: str | None, capacity: int) -> Hold:
        hold = Hold(self, sid, namespace, room, capacity)
        self._by_sid.setdefault(sid, []).append(hold)
        return hold

    def remove(self, hold: Hold) -> None:
        holds = self._by_sid.get(hold.sid)
        if holds and hold in holds:
            holds.remove(hold)
            if not holds:
                del self._by_sid[hold.sid]

    def intercept(self, manager, event: str, data, namespace: str, room, skip_sid) -> list[str]:
        """Keep this emit for every held recipient; returns their sids (to skip in the delivery)."""
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        held = []
        ns_rooms = namespace_rooms(manager, namespace)
        for sid, holds in self._by_sid.items():
            if sid in skip:
                continue
            for hold in holds:
                if hold.covers(namespace, room) and _member(ns_rooms, sid, hold.room):
                    hold.keep(event, data)
                    held.append(sid)
                    break
        return held


def _member(ns_rooms: dict, sid: str, room: str | None) -> bool:
    members = ns_rooms.get(room)
    return members is not None and sid in members

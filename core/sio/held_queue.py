"""Holding a session's output until its namespace connect is answered (Node sends CONNECT first)."""

from __future__ import annotations

from engineio.packet import MESSAGE

from core.transport.lean_queue import LeanQueue, packet_size



class HoldingQueue(LeanQueue):
    """LeanQueue plus hold()/release(): while held, put() collects packets instead of sending them.

    OutputHold (below) holds a session's output while its connect hooks run, so
    nothing overtakes the CONNECT answer. Held packets count against the connection's budget
    like queued ones (a hook that never ends cannot make the server hold unbounded output).
    """

    __slots__ = ("held",)

    def __init__(self, budget=None):
        super().__init__(budget)
        self.held: list | None = None

    def put_nowait(self, item) -> None:
        held = self.held
        if held is None or item is None:  # None ends the session's writer: never held
            LeanQueue.put_nowait(self, item)
            return
        if self.cut:
            return  # the client was cut off: nothing more for it
        held.append(item)
        self.nbytes += packet_size(item)
        budget = self.budget
        if budget is not None and self.nbytes > budget.high:
            budget.check(self)

    def hold(self) -> bool:
        """Start holding; False when a hold is already in place (it keeps holding for both)."""
        if self.held is not None:
            return False
        self.held = []
        return True

    def release(self) -> list:
        """Stop holding; what was held, to be put again in order (nothing if the client was cut)."""
        held, self.held = self.held or [], None
        for item in held:
            self.nbytes -= packet_size(item)
        return [] if self.cut else held


def namespace_of(data) -> str | None:
    """The namespace of an encoded Socket.IO packet (`2/admin,[...]` -> "/admin"); None for bytes."""
    if not isinstance(data, str):
        return None
    i = 1
    while i < len(data) and data[i].isdigit():
        i += 1
    start = i + 1 if data[i:i + 1] == "-" else 1  # binary packets: `51-/admin,...`
    if data[start:start + 1] != "/":
        return "/"
    end = data.find(",", start)
    return data[start:] if end < 0 else data[start:end]


class OutputHold:
    """Holds what is sent to a session while a namespace connect is decided (Node: CONNECT first).

    python-socketio registers the new sid in its rooms before the connect handler runs, so an
    emit made there (or a broadcast meanwhile) would reach the client before the CONNECT answer.
    Held here: the session's queue (core.sio.held_queue.HoldingQueue) and its direct writer
    (core.transport.direct), which is taken off the registry so broadcasts queue instead.
    """

    def __init__(self, queue, direct, sid: str):
        """queue: the session's HoldingQueue (or None); direct: the server's DirectWrites (or None)."""
        self.queue = queue if hasattr(queue, "hold") and queue.hold() else None
        writers = getattr(direct, "writers", None)
        self._writers, self._sid = writers, sid
        self._writer = writers.pop(sid, None) if self.queue is not None and writers else None

    def release(self) -> list:
        """Stop holding; what was held, for replay() after the answer."""
        if self.queue is None:
            return []
        writer = self._writer
        if writer is not None and self.queue.sink is not None:  # not detached meanwhile
            self._writers.setdefault(self._sid, writer)
        return self.queue.release()

    def replay(self, items) -> None:
        if self.queue is not None:
            for item in items:
                self.queue.put_nowait(item)


def without_namespace(items: list, namespace: str) -> list:
    """Held packets minus the Socket.IO packets (and their attachments) of a refused namespace."""
    kept, skip_attachments = [], 0
    for item in items:
        data = getattr(item, "data", None)
        if skip_attachments and isinstance(data, bytes):
            skip_attachments -= 1
            continue
        skip_attachments = 0
        if getattr(item, "packet_type", None) == MESSAGE and namespace_of(data) == namespace:
            if data[:1] in ("5", "6"):
                skip_attachments = int(data[1:data.index("-")])
            continue
        kept.append(item)
    return kept

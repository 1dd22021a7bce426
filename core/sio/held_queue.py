"""A session's outgoing queue that can hold what is put in it until a namespace connect is answered."""

from __future__ import annotations

from core.transport.lean_queue import LeanQueue, packet_size


class HoldingQueue(LeanQueue):
    """LeanQueue plus hold()/release(): while held, put() collects packets instead of sending them.

    core.sio.internals.OutputHold holds a session's output while its connect hooks run, so
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

"""What one client may make the server hold, and the clock that cuts off a client that stays over it.

Every connection has the same byte budget for everything held on its behalf: the message it is
sending (reassembly), messages waiting for its session, packets queued for it (the Engine.IO
queue), and bytes its socket has not taken yet. Outbound, the budget works with water marks:
above `high` (half the budget) a clock starts; a client still above `low` (a quarter) when the
clock runs out (`slow_client_timeout`), or that reaches the whole budget at any time, is cut off:
its queue is emptied at once, its TCP connection aborted, one log line written and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("chat.transport")

DEFAULT_BUDGET = 8 * 1024 * 1024


@dataclass(eq=False)
class TransportPolicy:
    """The bounds every connection of a server shares, and the counts of clients cut off."""

    budget: int = DEFAULT_BUDGET
    slow_client_timeout: float = 5.0
    close_timeout: float = 2.0
    handshake_timeout: float = 10.0
    max_fragments: int = 1024
    # Pings (websocket and Engine.IO) a connection may send: a token bucket, as server.rate_limit.
    control_rate: float = 20.0
    control_burst: int = 60
    control_disconnect_after: int = 200
    counts: Counter = field(default_factory=Counter)
    # on_cut(queue): ends the Engine.IO session that owns an over-budget queue (core.sio.binding).
    on_cut: object = None

    @property
    def high(self) -> int:
        return self.budget // 2

    @property
    def low(self) -> int:
        return self.budget // 4

    def count(self, what: str) -> None:
        self.counts[what] += 1

    def health(self) -> dict:
        """What /healthz shows: clients cut off and frames refused since start, by reason."""
        return {"budget": self.budget, **{name: self.counts.get(name, 0) for name in COUNTED}}

    # ---- the outbound clock -------------------------------------------------------------------

    def backlog(self, queue) -> int:
        """Bytes waiting to reach this client: its queue, and its socket's unsent bytes."""
        link = queue.link
        return queue.nbytes + (link.buffered() if link is not None else 0)

    def check(self, queue) -> None:
        """Called when a connection's backlog may be above the high water mark."""
        backlog = self.backlog(queue)
        if backlog <= self.high or queue.cut:
            return
        if backlog >= self.budget:
            self.cut(queue, f"{backlog} bytes waiting for it, over the budget of {self.budget}")
        elif queue.over_since is None:
            loop = asyncio.get_running_loop()
            queue.over_since = loop.time()
            loop.call_later(self.slow_client_timeout, self._expire, queue)

    def _expire(self, queue) -> None:
        queue.over_since = None
        if queue.cut:
            return
        backlog = self.backlog(queue)
        if backlog > self.low:
            self.cut(queue, f"{backlog} bytes still waiting for it after {self.slow_client_timeout:g}s "
                            f"over {self.high}")

    def cut(self, queue, why: str) -> None:
        """Cut a client off: memory released now, its session ended, its TCP connection aborted."""
        queue.cut = True
        self.count("slow_clients_cut")
        link = queue.link
        log.warning("disconnecting slow client %s: %s", link.peer if link is not None else "(polling)", why)
        queue.discard()
        if link is not None:
            link.abort()
        if self.on_cut is not None:
            self.on_cut(queue)


# The counters /healthz shows (always present, 0 until something happens).
COUNTED = ("slow_clients_cut", "control_frames_refused", "control_flood_closed", "protocol_errors",
           "oversized_messages", "handshake_refused", "handshake_timeouts", "probe_timeouts",
           "internal_errors")

"""The rate limit on what a websocket peer sends besides messages: pings, pongs, Engine.IO pings.

One token bucket per connection at server.rate_limit's rate and burst, made at the first ping
(browsers send none): beyond the burst pings go unanswered and are counted, `disconnect_after`
in a row close the connection. Pongs are also bounded by the socket's unsent bytes: a peer that
does not read gets no more of them.
"""

from __future__ import annotations

import logging

from core.transport.budget import TransportPolicy

log = logging.getLogger("chat.websocket")

# Unsent bytes above which pings go unanswered (their pongs would only pile up).
PONG_BOUND = 16 * 1024
# A pong frame is at most this long (a 125-byte payload and its header).
MAX_PONG = 127


class PingMeter:
    """One connection's token bucket for control frames."""

    __slots__ = ("tokens", "last", "streak")

    def __init__(self, burst: int, now: float):
        self.tokens, self.last, self.streak = float(burst), now, 0

    def _refilled(self, policy: TransportPolicy, now: float) -> float:
        return min(float(policy.control_burst), self.tokens + (now - self.last) * policy.control_rate)

    def charge(self, policy: TransportPolicy, now: float, received: int, peer: str) -> bool:
        """Take `received` tokens; True when the peer has been over the limit too long (close it)."""
        tokens = self._refilled(policy, now)
        self.last = now
        over = received - int(tokens) if received > tokens else 0
        self.tokens = max(0.0, tokens - received)
        if not over:
            self.streak = 0
            return False
        if not self.streak:
            log.warning("websocket from %s: more than %g pings/pongs per second, not answered",
                        peer, policy.control_rate)
        self.streak += over
        policy.counts["control_frames_refused"] += over
        if policy.control_disconnect_after and self.streak >= policy.control_disconnect_after:
            log.warning("closing websocket from %s: %d pings/pongs over the rate limit", peer, self.streak)
            policy.count("control_flood_closed")
            return True
        return False


def pong_credit(meter: PingMeter | None, policy: TransportPolicy, buffered: int, now) -> int:
    """Pings that may be answered now: the bucket's tokens, and room in the write buffer.

    `now` is a callable (the loop's clock), read only once the connection has pinged.
    """
    if buffered >= PONG_BOUND:
        return 0
    room = (PONG_BOUND - buffered) // MAX_PONG + 1
    if meter is None:
        return min(room, policy.control_burst)
    return min(room, int(meter._refilled(policy, now())))

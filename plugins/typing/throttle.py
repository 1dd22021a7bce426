"""One connection's "is typing" state in one room: what to push and when, at most one push per interval.

A client may send typing(true/false) as often as it likes; the room hears at most one push per
`min_interval`, the newest state wins (a push that would come too early waits for its slot),
a "true" is pushed again at most once per interval while refreshes keep coming (so that
receivers' own expiry does not hide it), and a "true" not refreshed for `expiry` seconds
turns into a pushed "false".
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Typist:
    """The state of one connection in one room; times are time.monotonic() seconds."""

    nick: str
    wanted: bool = False  # what the client says now
    pushed: bool = False  # what the room heard last
    refresh: bool = False  # a "true" arrived since the last push
    last_push: float = -math.inf
    expires: float | None = None  # when a "true" turns false by itself

    def says(self, typing: bool, now: float, expiry: float) -> None:
        """The client sent typing(typing)."""
        self.wanted = typing
        self.refresh = typing
        self.expires = now + expiry if typing else None

    def next_step(self, now: float, min_interval: float) -> tuple[bool | None, float | None]:
        """(state to push now or None, seconds until the next check or None when nothing is due)."""
        if self.wanted and self.expires is not None and now >= self.expires:
            self.wanted, self.refresh, self.expires = False, False, None
        due = self.wanted != self.pushed or (self.wanted and self.refresh)
        if due:
            wait = self.last_push + min_interval - now
            if wait > 0:
                return None, wait
            self.pushed, self.refresh, self.last_push = self.wanted, False, now
            push = self.wanted
        else:
            push = None
        if self.wanted and self.expires is not None:
            return push, max(0.0, self.expires - now)
        return push, None

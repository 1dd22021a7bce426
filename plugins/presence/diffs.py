"""Roster changes gathered for a short while and pushed as one `presence(roomId, diff)` per room.

A burst of joins (a class logging in, a process restarting) would otherwise cost one message per
change to every member: n joins to a room of n members is n² deliveries; gathered, it is one
message per room per interval from each process that saw changes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from .roster import Change

Emit = Callable[[str, dict], Awaitable[None]]


def diff_messages(changes: list[Change], chunk: int) -> list[dict]:
    """Changes as diffs of at most `chunk` entries each, in the order they happened.

    Clients apply a diff's joins before its leaves; a connection that joined and left within one
    diff is in both lists, so it ends up absent, as it should.
    """
    out = []
    for start in range(0, len(changes), chunk):
        part = changes[start:start + chunk]
        out.append({"joined": [c.wire() for c in part if c.joined],
                    "left": [c.wire() for c in part if not c.joined]})
    return out


class DiffBatcher:
    """Collects changes per room and emits them every `interval` seconds (only when there are some)."""

    def __init__(self, emit: Emit, interval: float, chunk: int, logger: logging.Logger):
        self._emit = emit
        self._interval = interval
        self._chunk = chunk
        self._log = logger
        self._pending: dict[str, list[Change]] = {}
        self._timer: asyncio.Task | None = None

    def add(self, changes: list[Change]) -> None:
        for change in changes:
            self._pending.setdefault(change.room, []).append(change)
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._flush_later(), name="presence-diffs")

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self._interval)
        finally:
            self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Emit everything pending now."""
        pending, self._pending = self._pending, {}
        for room, changes in pending.items():
            for diff in diff_messages(changes, self._chunk):
                try:
                    await self._emit(room, diff)
                except Exception:
                    self._log.exception("presence: could not send a diff to room %r", room)

    async def close(self) -> None:
        """Send what is pending and stop the timer (shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

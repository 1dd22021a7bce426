"""This process's connections in the roster: changes applied in order, retried while the store is away.

Room events come in publish order (one RoomEvent subscription); the disconnect hook, which runs
while the connection is still in its rooms, removes all of its entries at once, and entries that
arrive for a connection already gone are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from core.api import StoreUnavailable

from .roster import Change, Entry, Roster, new_id, now_ms

RETRY_INTERVAL = 0.5  # seconds between attempts while the store is unreachable
GONE_KEPT = 120.0  # seconds a disconnected sid is remembered, to ignore its late room events


@dataclass(frozen=True)
class Op:
    """One change to apply: kind is entered, left, gone, release or sweep."""

    kind: str
    sid: str = ""
    room: str = ""
    nick: str = ""
    reason: str = ""
    new_id: str = ""  # chosen once, so that a retried write writes the same entry
    since: int = 0
    process: str = ""  # release: the dead process


def leave_reason(reason: str) -> str:
    """The diff's reason for a RoomLeft: left and renamed as they are, anything else is a disconnect."""
    return reason if reason in ("left", "renamed") else "disconnected"


class Tracker:
    """Applies room changes of local connections to the roster and reports them to `report`."""

    def __init__(self, roster: Roster, processes: Callable, report: Callable[[list[Change]], None],
                 logger: logging.Logger, max_pending: int):
        self.roster = roster
        self._processes = processes
        self._report = report
        self._log = logger
        self._max_pending = max_pending
        # What this process wrote, to write it again if the store lost it: sid -> room -> Entry.
        self.local: dict[str, dict[str, Entry]] = {}
        self._gone: dict[str, float] = {}
        self._ops: deque[Op] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0
        self._store_down_since: float | None = None

    @property
    def pending(self) -> int:
        """Roster changes waiting for the store."""
        return len(self._ops)

    # Queuing (synchronous: the order of calls is the order applied) ------------------------

    def push(self, op: Op) -> None:
        if len(self._ops) >= self._max_pending:
            self._ops.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self._log.error("presence: %d roster change(s) dropped: more than %d waited for the "
                                "store; the member lists may be wrong until these connections leave",
                                self.dropped, self._max_pending)
        self._ops.append(op)
        self._wake.set()

    def entered(self, sid: str, room: str, nick: str) -> None:
        self.push(Op("entered", sid, room, nick, new_id=new_id(), since=now_ms()))

    def left(self, sid: str, room: str, reason: str) -> None:
        self.push(Op("left", sid, room, reason=leave_reason(reason)))

    def gone(self, sid: str) -> None:
        self._gone[sid] = time.monotonic()
        self.push(Op("gone", sid))

    def release(self, process: str) -> None:
        self.push(Op("release", process=process))

    def sweep(self) -> None:
        if not any(op.kind == "sweep" for op in self._ops):  # no pile-up while the store is away
            self.push(Op("sweep"))

    @property
    def pending(self) -> int:
        return len(self._ops)

    # Applying ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued changes one at a time, forever (cancelled at shutdown)."""
        while True:
            if not self._ops:
                self._wake.clear()
                await self._wake.wait()
                continue
            op = self._ops[0]
            try:
                changes = await self._apply(op)
            except StoreUnavailable as exc:  # the store is unreachable: keep the change, try again
                if self._store_down_since is None:
                    self._store_down_since = time.monotonic()
                    self._log.warning("presence: the store is unreachable (%s); %d roster change(s) "
                                      "wait, retrying every %ss", exc, len(self._ops), RETRY_INTERVAL)
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            except Exception:
                self._log.exception("presence: could not apply %s", op)
                changes = []
            if self._ops and self._ops[0] is op:
                self._ops.popleft()
            if self._store_down_since is not None:
                self._log.info("presence: the store is reachable again after %.1fs; applying %d waiting "
                               "change(s)", time.monotonic() - self._store_down_since, len(self._ops) + 1)
                self._store_down_since = None
            if changes:
                self._report(changes)

    async def _apply(self, op: Op) -> list[Change]:
        if op.kind == "entered":
            return await self._entered(op)
        if op.kind == "left":
            return await self._remove(op.sid, op.room, op.reason)
        if op.kind == "gone":
            changes = []
            for room in list(self.local.get(op.sid, {})):
                changes += await self._remove(op.sid, room, "disconnected")
            self.local.pop(op.sid, None)
            return changes
        if op.kind == "release":
            return await self.roster.release(op.process)
        if op.kind == "sweep":
            return await self._sweep()
        raise ValueError(f"unknown roster change {op.kind!r}")

    async def _entered(self, op: Op) -> list[Change]:
        if op.sid in self._gone:
            return []  # it disconnected before this was applied
        rooms = self.local.setdefault(op.sid, {})
        current = rooms.get(op.room)
        if current is not None and current.nick == op.nick:
            return []
        changes = []
        if current is not None:  # a new nickname without a RoomLeft first (another publisher)
            changes += await self._remove(op.sid, op.room, "renamed")
        entry = Entry(op.new_id, op.room, op.nick, op.since)
        await self.roster.add(entry)
        rooms[op.room] = entry
        changes.append(Change(op.room, entry.id, entry.nick, since=entry.since))
        return changes

    async def _remove(self, sid: str, room: str, reason: str) -> list[Change]:
        rooms = self.local.get(sid, {})
        entry = rooms.get(room)
        if entry is None:
            return []
        removed = await self.roster.remove(entry)
        if not removed and not await self.roster.registered():
            removed = True  # the store lost it (Redis restarted empty): the members still know it
        rooms.pop(room, None)
        if not rooms:
            self.local.pop(sid, None)
        # Not removed while registered: a survivor thought this process dead and released (and
        # reported) the entry already.
        return [Change(room, entry.id, entry.nick, reason=reason)] if removed else []

    async def _sweep(self) -> list[Change]:
        cutoff = time.monotonic() - GONE_KEPT
        for sid in [s for s, at in self._gone.items() if at < cutoff]:
            del self._gone[sid]
        live = set(await self._processes())
        changes = []
        for process in await self.roster.dead_processes(live):
            self._log.info("presence: releasing the members of process %s (no longer live)", process)
            changes += await self.roster.release(process)
        if not await self.roster.registered():  # not yet (the store was away at start), or lost
            changes += await self.reassert()
        return changes

    async def reassert(self) -> list[Change]:
        """Write every local entry again (the store lost them, or a survivor released them)."""
        await self.roster.register()
        changes = []
        for rooms in list(self.local.values()):
            for entry in list(rooms.values()):
                if await self.roster.add(entry):
                    changes.append(Change(entry.room, entry.id, entry.nick, since=entry.since))
        if changes:
            self._log.warning("presence: wrote %d roster entr%s again (the store had lost them)",
                              len(changes), "y" if len(changes) == 1 else "ies")
        return changes

    async def retire(self) -> list[Change]:
        """At shutdown: remove every local entry and this process from the store."""
        changes = []
        for sid in list(self.local):
            for room in list(self.local.get(sid, {})):
                changes += await self._remove(sid, room, "disconnected")
        await self.roster.unregister()
        return changes

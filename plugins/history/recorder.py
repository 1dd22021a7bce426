"""History entries on their way to the shared store: queued in order, written by one task.

Entries are queued by a before_send hook, i.e. before the message leaves this process (before
any other process can deliver it). A joiner's process asks every process to flush (a cluster
request) once the joiner is in the room and its live deliveries are held, then reads the store:
whatever any process delivered before the join is in the store by then, whatever came after is
held with its id, and the ids cut the overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

EVERYBODY_KEY = "chat"
ROOMS_KEY = "rooms"  # hash: room -> epoch ms of its last message (for the room cap and idle expiry)
NICK_WAIT = 0.5  # seconds an entry waits for its sender's nickname (chat.message.sent) before it is written


def room_key(room: str | None) -> str:
    return EVERYBODY_KEY if room is None else f"room:{room}"


def now_ms() -> int:
    return int(time.time() * 1000)


class Entry:
    """One message for the history: its store key, the item, and whether its nickname is known."""

    __slots__ = ("room", "item", "resolved", "created")

    def __init__(self, room: str | None, item: dict, resolved: bool):
        self.room, self.item, self.resolved = room, item, resolved
        self.created = time.monotonic()


class Recorder:
    """The bounded queue of entries and the task writing them to ctx.store, in order."""

    def __init__(self, store, *, capacity: int, max_messages: int, max_age: float, max_rooms: int,
                 retry_interval: float, logger: logging.Logger):
        self._store = store
        self._capacity = capacity
        self._max_messages = max_messages
        self._max_age = max_age
        self._max_rooms = max_rooms
        self._retry = retry_interval
        self._log = logger
        self._queue: deque[Entry] = deque()
        self._waiting_nick: dict[tuple[str, str], deque[Entry]] = {}
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._indexed: dict[str, float] = {}  # room -> monotonic time its index entry was refreshed
        self.queued = 0      # entries ever queued (the flush target)
        self.done = 0        # entries written or given up on, in queue order
        self.written = 0
        self.dropped = 0     # refused because the queue was full (store unreachable or slow)
        self.failed = 0      # store errors (each retried until the entry goes in)
        self.evicted = 0     # rooms forgotten because of the room cap
        self.rooms = 0       # rooms kept, as of the last index check
        self.store_up = True
        self._reported_drops = 0

    # Producer side (the delivery path: no waiting) --------------------------------------------

    def add(self, room: str | None, item: dict, sender: str | None) -> None:
        if len(self._queue) >= self._capacity:
            if self.dropped == self._reported_drops:
                self._log.warning("history: %d entries queued while the store is unreachable or slow; "
                                  "dropping new ones and counting them", self._capacity)
            self.dropped += 1
            return
        needs_nick = room is not None and sender is not None
        entry = Entry(room, item, resolved=not needs_nick)
        if needs_nick:
            self._waiting_nick.setdefault((sender, room), deque()).append(entry)
        self._queue.append(entry)
        self.queued += 1
        self._wakeup.set()

    def nickname(self, sid: str, room: str, nickname: str | None) -> None:
        """The sender's nickname for its oldest entry in room still without one (from chat.message.sent)."""
        waiting = self._waiting_nick.get((sid, room))
        if not waiting:
            return
        entry = waiting.popleft()
        if not waiting:
            del self._waiting_nick[(sid, room)]
        entry.item["nickName"] = nickname
        entry.resolved = True
        self._wakeup.set()

    # Flush barrier -----------------------------------------------------------------------------

    async def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is in the store (or timeout); True if it is."""
        target = self.queued
        deadline = time.monotonic() + timeout
        while self.done < target:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except asyncio.TimeoutError:
                return False
        return True

    def health(self) -> dict:
        return {"store_connected": self.store_up, "queued": len(self._queue), "written": self.written,
                "dropped": self.dropped, "store_errors": self.failed, "rooms": self.rooms,
                "rooms_evicted": self.evicted}

    # The writer task ---------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            entry = self._queue[0]
            if not entry.resolved:
                left = entry.created + NICK_WAIT - time.monotonic()
                if left > 0:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), left)
                    except asyncio.TimeoutError:
                        pass
                    continue
                self._forget_waiting(entry)
            try:
                await self._write(entry)
            except Exception as exc:  # the store's errors, whatever the backplane raises
                self.failed += 1
                if self.store_up:
                    self.store_up = False
                    self._log.warning("history: the store failed (%s: %s); keeping up to %d entries and "
                                      "retrying every %ss", type(exc).__name__, exc, self._capacity, self._retry)
                await asyncio.sleep(self._retry)
                continue
            self._queue.popleft()
            self.written += 1
            self.done += 1
            self._progress.set()
            if not self.store_up:
                self.store_up = True
                self._log.info("history: the store is back; %d entries still queued", len(self._queue))
            if self.dropped != self._reported_drops:
                self._log.warning("history: %d entries were dropped while the store was unreachable",
                                  self.dropped - self._reported_drops)
                self._reported_drops = self.dropped

    def _forget_waiting(self, entry: Entry) -> None:
        for key, waiting in list(self._waiting_nick.items()):
            if entry in waiting:
                waiting.remove(entry)
                if not waiting:
                    del self._waiting_nick[key]
                return

    async def _write(self, entry: Entry) -> None:
        length = await self._store.list_push(room_key(entry.room), entry.item, self._max_messages,
                                             ttl=self._max_age)
        if entry.room is not None:
            await self._index(entry.room, fresh=length == 1)

    async def _index(self, room: str, fresh: bool) -> None:
        """Note the room's activity (at most once a minute per room) and keep the room cap."""
        seen = self._indexed.get(room)
        if not fresh and seen is not None and time.monotonic() - seen < 60:
            return
        await self._store.hash_set(ROOMS_KEY, room, now_ms())
        await self._store.expire(ROOMS_KEY, self._max_age)
        if len(self._indexed) > 4 * self._max_rooms:
            self._indexed.clear()
        self._indexed[room] = time.monotonic()
        if fresh:
            await self.enforce_room_cap()

    async def enforce_room_cap(self) -> None:
        """Forget idle rooms, then the least recently active ones beyond max_rooms."""
        rooms: dict[str, Any] = await self._store.hash_get_all(ROOMS_KEY)
        cutoff = now_ms() - self._max_age * 1000
        stale = [r for r, at in rooms.items() if not isinstance(at, (int, float)) or at < cutoff]
        live = sorted(((at, r) for r, at in rooms.items() if r not in stale), reverse=True)
        evict = [r for _, r in live[self._max_rooms:]]
        for room in stale + evict:
            await self._store.delete(room_key(room))
            self._indexed.pop(room, None)
        if stale or evict:
            await self._store.hash_delete(ROOMS_KEY, *(stale + evict))
        self.evicted += len(evict)
        self.rooms = len(live) - len(evict)

"""asyncio.Queue's interface for an Engine.IO socket's outgoing packets, in a fraction of its memory.

Every connection holds one. asyncio.Queue keeps three deques and an Event (four more blocks of
64 slots) per instance; this keeps a list and creates futures only while someone waits.
put() never waits, as in the unbounded queue engineio creates; instead the queue counts the
bytes it holds and tells its connection's budget (core.transport.budget) when they pass the
high water mark, and a cut-off client's queue drops what it holds at once.
"""

from __future__ import annotations

import asyncio

# What a queued packet costs besides its data (the Packet object and its list slot).
PACKET_OVERHEAD = 100


def packet_size(item) -> int:
    """Bytes a queued packet holds, as the budget counts them."""
    if item is None:
        return 0
    data = getattr(item, "data", None)
    return PACKET_OVERHEAD + (len(data) if data.__class__ is str or data.__class__ is bytes else 64)


class LeanQueue:
    """put/get/get_nowait/put_nowait/empty/qsize/task_done/join, as asyncio.Queue has them."""

    __slots__ = ("items", "sink", "nbytes", "budget", "link", "over_since", "cut",
                 "_getters", "_unfinished", "_joiners")

    def __init__(self, budget=None):
        self.items: list = []  # what is waiting, oldest first (read it, do not change it)
        # sink(item) -> bool: takes an item at once when nothing waits ahead of it (a websocket
        # writing a packet straight out, core.transport.direct); False leaves it to the queue.
        self.sink = None
        self.nbytes = 0  # bytes held, as packet_size() counts them
        self.budget = budget  # core.transport.budget.TransportPolicy, or None: unbounded
        self.link = None  # the websocket this queue's packets go out on (its unsent bytes count too)
        self.over_since: float | None = None  # when the backlog went over the high water mark
        self.cut = False  # the client was cut off: what is put now is dropped
        self._getters: list[asyncio.Future] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future] | None = None

    def qsize(self) -> int:
        return len(self.items)

    def empty(self) -> bool:
        return not self.items

    def put_nowait(self, item) -> None:
        sink = self.sink
        if sink is not None and item is not None and not self.items and sink(item):
            return
        if self.cut and item is not None:
            return  # the session is being ended; its client gets nothing more
        self.items.append(item)
        self._unfinished += 1
        if item is not None:
            self.nbytes += packet_size(item)
            budget = self.budget
            if budget is not None:
                link = self.link  # the websocket's unsent bytes are part of the same backlog
                if self.nbytes + (link.buffered() if link is not None else 0) > budget.high:
                    budget.check(self)
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break

    async def put(self, item) -> None:
        self.put_nowait(item)

    def _take(self):
        item = self.items.pop(0)
        if item is not None:
            self.nbytes -= packet_size(item)
        return item

    def get_nowait(self):
        if not self.items:
            raise asyncio.QueueEmpty
        return self._take()

    async def get(self):
        while not self.items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                elif self.items:
                    self._wake_next()  # it was woken for an item it will not take: pass it on
                raise
        return self._take()

    def discard(self) -> None:
        """Drop every queued packet now (a cut-off client); a None end marker is kept."""
        ended = None in self.items
        dropped = len(self.items)
        self.items[:] = [None] if ended else []  # the same list: a DirectWriter reads it
        self.nbytes = 0
        self._unfinished = max(0, self._unfinished - dropped + (1 if ended else 0))
        if self._unfinished == 0:
            self._release_joiners()

    def _wake_next(self) -> None:
        for getter in self._getters or ():
            if not getter.done():
                getter.set_result(None)
                return

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0:
            self._release_joiners()

    def _release_joiners(self) -> None:
        if self._joiners:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        if self._unfinished:
            joiner = asyncio.get_running_loop().create_future()
            if self._joiners is None:
                self._joiners = []
            self._joiners.append(joiner)
            await joiner

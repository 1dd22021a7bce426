"""asyncio.Queue's interface for an Engine.IO socket's outgoing packets, in a fraction of its memory.

Every connection holds one. asyncio.Queue keeps three deques and an Event (four more blocks of
64 slots) per instance; this keeps a list and creates futures only while someone waits.
Unbounded, like the queue engineio creates, so put() never waits.
"""

from __future__ import annotations

import asyncio


class LeanQueue:
    """put/get/get_nowait/put_nowait/empty/qsize/task_done/join, as asyncio.Queue has them."""

    __slots__ = ("items", "sink", "_getters", "_unfinished", "_joiners")

    def __init__(self):
        self.items: list = []  # what is waiting, oldest first (read it, do not change it)
        # sink(item) -> bool: takes an item at once when nothing waits ahead of it (a websocket
        # writing a packet straight out); False leaves it to the queue and its consumer.
        self.sink = None
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
        self.items.append(item)
        self._unfinished += 1
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break

    async def put(self, item) -> None:
        self.put_nowait(item)

    def get_nowait(self):
        if not self.items:
            raise asyncio.QueueEmpty
        return self.items.pop(0)

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
        return self.items.pop(0)

    def _wake_next(self) -> None:
        for getter in self._getters or ():
            if not getter.done():
                getter.set_result(None)
                return

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners:
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

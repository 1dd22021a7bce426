"""The tasks the server creates, kept in one set so that shutdown can cancel exactly those."""

from __future__ import annotations

import asyncio
from typing import Coroutine


class TaskSet:
    """Tasks started through spawn() (or adopted with add()) until they finish."""

    def __init__(self):
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine, name: str | None = None) -> asyncio.Task:
        """Start coro as a task and keep it until it is done."""
        return self.add(asyncio.get_running_loop().create_task(coro, name=name))

    def add(self, task: asyncio.Future) -> asyncio.Future:
        """Keep a task created elsewhere (e.g. by engineio's start_background_task) until it is done."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self, timeout: float) -> int:
        """Cancel what is still running (except the caller) and wait up to timeout; returns how many."""
        current = asyncio.current_task()
        leftovers = [t for t in self._tasks if t is not current and not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=timeout)
        return len(leftovers)

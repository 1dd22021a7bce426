"""Joins: a plugin sends a socket what it should see before the live messages of what it just joined.

When a local socket enters a room through ctx.enter_room, or connects (and so starts getting
the namespace's broadcasts), and some plugin registered ctx.on_join, core first puts a hold on
the socket's deliveries of that room (core/sio/holds.py), lets the join happen, then runs the
join hooks in a task. A hook may emit to the socket (history sends what was said before) and
returns the ids of the messages it covered; core then delivers what was held meanwhile, in
order, minus those ids and whatever the same process sent before one of them (holds.covered_by). Without join hooks nothing of this happens (no hold, no task).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from core.api.registry import Registry
from core.base.tasks import TaskSet

log = logging.getLogger("chat.core")

# Messages one joining socket may have held back; beyond, it is disconnected (its page reconnects).
HOLD_CAPACITY = 2000
# How long one join hook may take before the held messages go out without it.
JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class Join:
    """A socket of this process joined `room` (None: it connected and gets the namespace's broadcasts)."""

    sid: str
    room: str | None
    namespace: str = "/"
    # True when connection-state recovery restored the socket: it kept its page, so a hook
    # should send nothing again (history sends no history). Set by the recovery layer.
    recovered: bool = False


class Joins:
    """Holds and join hooks around ctx.enter_room and connects; one per server."""

    def __init__(self, sio, registry: Registry, tasks: TaskSet):
        self._sio = sio
        self._registry = registry
        self._tasks = tasks

    def _hooks(self, namespace: str) -> list:
        return self._registry.hooks_for(self._registry.join_hooks, namespace)

    def begin(self, sid: str, internal_room: str | None, namespace: str):
        """Before the join: hold sid's deliveries of internal_room. None when nobody listens."""
        if not self._hooks(namespace):
            return None
        holds = getattr(self._sio.manager, "holds", None)
        hold = holds.add(sid, namespace, internal_room, HOLD_CAPACITY) if holds is not None else None
        return hold if hold is not None else _NO_HOLD

    def finish(self, hold, join: Join) -> None:
        """After the join: run the hooks, then release what was held."""
        self._tasks.spawn(self._run(hold, join), name=f"join:{join.sid}")

    async def _run(self, hold, join: Join) -> None:
        covered: set[Any] = set()
        try:
            for hook in self._hooks(join.namespace):
                try:
                    result = await asyncio.wait_for(hook(join), JOIN_TIMEOUT)
                except asyncio.TimeoutError:
                    log.warning("join hook %s took more than %ss for %s; its live messages go out without it",
                                hook.__qualname__, JOIN_TIMEOUT, join.sid)
                    continue
                except Exception:
                    log.exception("join hook %s failed for %s", hook.__qualname__, join.sid)
                    continue
                if result:
                    covered.update(_ids(result))
        finally:
            if hold is _NO_HOLD:
                pass
            elif hold.overflowed:
                hold.cancel()
                log.warning("%s: more than %d messages held while joining %s; disconnecting it",
                            join.sid, HOLD_CAPACITY, join.room or "the namespace")
                await self._sio.disconnect(join.sid, namespace=join.namespace)
            else:
                await hold.release(self._sio.manager, covered)


def _ids(result: Any) -> Iterable:
    return result if isinstance(result, (set, frozenset, list, tuple)) else ()


class _NoHold:
    """The backplane's manager cannot hold (not core's fan-out manager): hooks run, nothing is held."""

    overflowed = False

    def cancel(self) -> None:
        pass


_NO_HOLD = _NoHold()

"""Cluster events and request/reply, over whatever carries the backplane's messages.

A backplane hands this module the messages of kind "cluster" it receives and gives it a `send`
that puts a message on its way to every other process. Events and requests made here are
handled in this process at once, so every process, the sender's included, sees each once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

from core.backplane.base import Backplane, ClusterEventHandler, Replier, encode, local_room_count, local_room_sockets

ROOM_SOCKETS, ROOM_COUNT = "core:room_sockets", "core:room_count"
Send = Callable[[dict], Awaitable[None]]
Live = Callable[[], list[str]]


class _Pending:
    __slots__ = ("waiting", "answers", "done")

    def __init__(self, waiting: set[str]):
        self.waiting = waiting
        self.answers: dict[str, Any] = {}
        self.done = asyncio.Event()

    def settle(self, process: str, answer: Any, answered: bool) -> None:
        if answered:
            self.answers[process] = answer
        self.waiting.discard(process)
        if not self.waiting:
            self.done.set()


class ClusterRPC:
    """Events to every process, and questions with one answer per live process or a timeout."""

    def __init__(self, process_id: str, send: Send, live: Live, logger: logging.Logger,
                 wait_for_all: bool = True):
        self.process_id = process_id
        # False when liveness is unknown (no heartbeats): a request waits its whole timeout.
        self._wait_for_all = wait_for_all
        self._send = send
        self._live = live  # the live processes as last seen, without a round trip
        self._log = logger
        self._event_handlers: list[ClusterEventHandler] = []
        self._repliers: dict[str, Replier] = {}
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task] = set()
        self.counts = {"events_sent": 0, "events_received": 0, "requests": 0, "timeouts": 0,
                       "failed_replies": 0, "late_requests": 0}

    # Events ---------------------------------------------------------------------------------

    def on_event(self, handler: ClusterEventHandler) -> None:
        self._event_handlers.append(handler)

    async def publish_event(self, name: str, fields: dict) -> None:
        message = {"method": "cluster", "kind": "event", "name": name, "fields": fields}
        encode(message)  # refuse what cannot travel before this process sees it
        self.counts["events_sent"] += 1
        await self._deliver_event(name, fields)
        await self._send(message)

    async def _deliver_event(self, name: str, fields: dict) -> None:
        for handler in self._event_handlers:
            try:
                await handler(name, fields)
            except Exception:
                self._log.exception("cluster event %s: handler %s failed", name, handler.__qualname__)

    # Requests -------------------------------------------------------------------------------

    def reply(self, topic: str, handler: Replier) -> None:
        if topic in self._repliers:
            raise ValueError(f"cluster topic {topic!r} already has a replier")
        self._repliers[topic] = handler

    async def request(self, topic: str, payload: Any, timeout: float) -> list[tuple[str, Any]]:
        """Ask every live process; answers of those that replied within timeout, by process id."""
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        rid = uuid.uuid4().hex
        pending = _Pending(set(self._live()) | {self.process_id} | ({""} if not self._wait_for_all else set()))
        self._pending[rid] = pending
        self.counts["requests"] += 1
        try:
            message = {"method": "cluster", "kind": "request", "rid": rid, "topic": topic,
                       "payload": payload, "from": self.process_id, "expires": time.time() + timeout}
            encode(message)
            self._spawn(self._answer(topic, payload, lambda ok, answer: pending.settle(
                self.process_id, answer, ok)))
            await self._send(message)
            try:
                await asyncio.wait_for(pending.done.wait(), timeout)
            except asyncio.TimeoutError:
                if not self._wait_for_all:
                    return sorted(pending.answers.items())
                self.counts["timeouts"] += 1
                self._log.info("cluster request %s: no answer from %s within %ss", topic,
                               ", ".join(sorted(pending.waiting)), timeout)
        finally:
            del self._pending[rid]
        return sorted(pending.answers.items())

    async def _answer(self, topic: str, payload: Any, settle: Callable[[bool, Any], None]) -> None:
        handler = self._repliers.get(topic)
        if handler is None:
            settle(False, None)  # a process without that plugin has nothing to say
            return
        try:
            answer = await handler(payload)
            encode(answer)
        except Exception:
            self.counts["failed_replies"] += 1
            self._log.exception("cluster replier for %s failed", topic)
            settle(False, None)
            return
        settle(True, answer)

    # Incoming -------------------------------------------------------------------------------

    async def received(self, message: dict) -> None:
        """A "cluster" message from another process (never this one's own)."""
        kind = message.get("kind")
        if kind == "event":
            self.counts["events_received"] += 1
            await self._deliver_event(message["name"], message.get("fields") or {})
        elif kind == "request":
            if message.get("expires", 0) < time.time() - 1:  # asked before an outage: nobody waits
                self.counts["late_requests"] += 1
                return
            rid, asker = message["rid"], message["from"]

            def settle(answered: bool, answer: Any) -> None:
                self._spawn(self._send({"method": "cluster", "kind": "reply", "rid": rid, "to": asker,
                                        "from": self.process_id, "answered": answered,
                                        "answer": answer}))

            self._spawn(self._answer(message["topic"], message.get("payload"), settle))
        elif kind == "reply" and message.get("to") == self.process_id:
            pending = self._pending.get(message.get("rid"))
            if pending is not None:
                pending.settle(message["from"], message.get("answer"), bool(message.get("answered")))

    def serve_room_queries(self, manager) -> None:
        """Answer core's room_sockets / room_count questions from manager's rooms."""

        async def sockets(payload):
            return await local_room_sockets(manager, payload["namespace"], payload["room"])

        async def count(payload):
            return local_room_count(manager, payload["namespace"], payload["room"])

        self.reply(ROOM_SOCKETS, sockets)
        self.reply(ROOM_COUNT, count)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def health(self) -> dict:
        return dict(self.counts, pending_requests=len(self._pending))


class RPCBackplane(Backplane):
    """What every backplane here shares: its manager, its id, and cluster events/requests by ClusterRPC.

    A subclass sets self._manager, self._id and self._rpc in its __init__.
    """

    @property
    def manager(self):
        return self._manager

    @property
    def process_id(self):
        return self._id

    def on_cluster_event(self, handler):
        self._rpc.on_event(handler)

    async def publish_event(self, name, fields):
        await self._rpc.publish_event(name, fields)

    def reply(self, topic, handler):
        self._rpc.reply(topic, handler)

    async def request(self, topic, payload, timeout):
        return await self._rpc.request(topic, payload, timeout)

"""ctx.cluster and cluster-wide events: a plugin's view of every process, over the backplane."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from core.backplane.base import Backplane
from core.backplane.cluster_rpc import ROOM_COUNT, ROOM_SOCKETS

DEFAULT_TIMEOUT = 1.0


@dataclass(frozen=True)
class SocketInfo:
    """A socket in a room somewhere in the cluster: its sid, its process, its session (every plugin's part)."""

    sid: str
    process: str
    session: dict


class Cluster:
    """`ctx.cluster`: which processes live, who is in a room anywhere, and questions to every process."""

    def __init__(self, backplane: Backplane, plugin: str, room_key: Callable[[str], str],
                 problems: list[str]):
        self._backplane = backplane
        self._plugin = plugin
        self._room_key = room_key
        self._problems = problems

    @property
    def process_id(self) -> str:
        """This process's id (the one ProcessDown and SocketInfo.process name)."""
        return self._backplane.process_id

    async def processes(self) -> list[str]:
        """Ids of the live processes, this one included (as the last heartbeat saw them)."""
        return await self._backplane.processes()

    async def room_sockets(self, room: str, timeout: float = DEFAULT_TIMEOUT,
                           namespace: str = "/") -> list[SocketInfo]:
        """The sockets in public room `room` on every live process that answers within timeout."""
        answers = await self._backplane.request(
            ROOM_SOCKETS, {"room": self._room_key(room), "namespace": namespace}, timeout)
        return [SocketInfo(s["sid"], process, s["session"]) for process, sockets in answers for s in sockets]

    async def room_count(self, room: str, timeout: float = DEFAULT_TIMEOUT, namespace: str = "/") -> int:
        """How many sockets are in public room `room`, summed over the processes that answer."""
        answers = await self._backplane.request(
            ROOM_COUNT, {"room": self._room_key(room), "namespace": namespace}, timeout)
        return sum(count for _, count in answers)

    async def request(self, topic: str, payload: Any = None, timeout: float = DEFAULT_TIMEOUT) -> list:
        """Ask this plugin's `reply(topic)` handler on every live process; their answers (JSON values).

        A process that does not answer within timeout (dead, stalled, its handler failed) is
        left out; the call never waits longer than timeout.
        """
        # "<plugin>:<topic>" asks another plugin's replier (the history plugin asks "archive:recent").
        qualified = topic if isinstance(topic, str) and ":" in topic else self._topic(topic)
        answers = await self._backplane.request(qualified, payload, timeout)
        return [answer for _, answer in answers]

    def reply(self, topic: str):
        """Decorator: async handler(payload) -> answer, for request(topic) from any process."""

        def register(handler: Callable[[Any], Awaitable[Any]]):
            try:
                self._backplane.reply(self._topic(topic), handler)
            except ValueError:
                self._problems.append(f"plugins.{self._plugin}: cluster topic {topic!r} already has a replier")
            return handler

        return register

    def _topic(self, topic: str) -> str:
        if not isinstance(topic, str) or not topic or ":" in topic:
            raise ValueError(f"a cluster topic is a non-empty string without ':', not {topic!r}")
        return f"{self._plugin}:{topic}"


class ClusterEvents:
    """Typed events sent to every process: on the wire, the event's name and its fields as JSON."""

    def __init__(self, backplane: Backplane, deliver: Callable[[Any], None], base: type,
                 logger: logging.Logger):
        self._backplane = backplane
        self._deliver = deliver  # hands an event to this process's subscribers
        self._base = base  # every event class derives from it
        self._log = logger
        self._classes: dict[str, type] = {}
        self.undecodable = 0
        backplane.on_cluster_event(self._received)

    async def publish(self, event: Any) -> None:
        """Deliver event in every process, this one included (once each, in order per publisher)."""
        cls = type(event)
        self._classes.setdefault(wire_name(cls), cls)
        await self._backplane.publish_event(wire_name(cls), dataclasses.asdict(event))

    async def _received(self, name: str, fields: dict) -> None:
        cls = self._classes.get(name) or self._find(name)
        if cls is None:
            return  # no class of that name in this process: nobody here can subscribe to it
        try:
            event = cls(**fields)
        except TypeError as exc:  # another version of the event class on the sending process
            self.undecodable += 1
            self._log.warning("cluster event %s does not fit %s here: %s", name, cls.__qualname__, exc)
            return
        self._deliver(event)

    def _find(self, name: str) -> type | None:
        todo = [self._base]
        while todo:
            cls = todo.pop()
            if dataclasses.is_dataclass(cls) and wire_name(cls) == name:
                self._classes[name] = cls
                return cls
            todo.extend(cls.__subclasses__())
        return None


def wire_name(cls: type) -> str:
    """An event class's name on the wire: its declared event name (chat.process.down, ...)."""
    return getattr(cls, "name", "") or cls.__name__

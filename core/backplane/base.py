"""The declared backplane interface: what every backplane (memory, redis, ...) gives core and the plugins.

A backplane module exposes `Config` (typed options), `create(config, logger) -> Backplane` and,
when it cannot serve several processes, `SINGLE_PROCESS_ONLY = True`.
"""

from __future__ import annotations

import abc
import contextvars
import json
from typing import Any, Awaitable, Callable

import socketio

from core.sio.internals import namespace_rooms

# Delivery outcome of the messages a handler emitted, for the honest ack mode ("queued" while
# Redis is away); the handler wrapper resets it before a handler runs and reads it after.
relay_outcome: contextvars.ContextVar[str | None] = contextvars.ContextVar("relay_outcome", default=None)

ClusterEventHandler = Callable[[str, dict], Awaitable[None]]
Replier = Callable[[Any], Awaitable[Any]]


class StoreError(Exception):
    """Base of the store's own errors."""


class WrongType(StoreError, TypeError):
    """The key holds another kind of value (a list used as a hash, ...), as Redis's WRONGTYPE."""


class StoreUnavailable(StoreError, ConnectionError):
    """The store could not be reached (Redis down or stalled); nothing was changed or read."""


class RelayRefused(Exception):
    """A message could not be accepted for the other processes (buffer full in the honest ack mode)."""


def encode(value: Any) -> str:
    """A value as canonical JSON: the same value always gives the same string (set members)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def decode(raw: str | bytes | None) -> Any:
    """The value stored by encode(); None for a missing key."""
    return None if raw is None else json.loads(raw)


def check_ttl(ttl: float | None) -> int | None:
    """Seconds as whole milliseconds (Redis PX); None stays None."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
    return max(1, round(ttl * 1000))


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"store keys are non-empty strings, not {key!r}")
    return key


class Store(abc.ABC):
    """A plugin's part of the shared store: keys with TTL, capped lists, sets, hashes; JSON values."""

    @abc.abstractmethod
    async def get(self, key: str) -> Any:
        """The value of key, or None."""

    @abc.abstractmethod
    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store value at key (replacing whatever was there and its TTL); ttl in seconds."""

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove key of any kind; True if it existed."""

    @abc.abstractmethod
    async def expire(self, key: str, ttl: float) -> bool:
        """Let key of any kind vanish after ttl seconds; False if there is no such key."""

    @abc.abstractmethod
    async def list_push(self, key: str, value: Any, cap: int, ttl: float | None = None) -> int:
        """Append value, keep the newest cap items, (re)set the TTL if given; the new length."""

    @abc.abstractmethod
    async def list_range(self, key: str, start: int = 0, stop: int = -1) -> list:
        """Items start..stop, both included, negative from the end (Redis LRANGE), oldest first."""

    @abc.abstractmethod
    async def list_len(self, key: str) -> int:
        """Items in the list (0 if none)."""

    @abc.abstractmethod
    async def set_add(self, key: str, *members: Any) -> int:
        """Add members; how many were new."""

    @abc.abstractmethod
    async def set_remove(self, key: str, *members: Any) -> int:
        """Remove members; how many were there. An emptied set is gone (with its TTL)."""

    @abc.abstractmethod
    async def set_members(self, key: str) -> list:
        """The members, in the order of their JSON text."""

    @abc.abstractmethod
    async def set_card(self, key: str) -> int:
        """How many members."""

    @abc.abstractmethod
    async def hash_set(self, key: str, field: str, value: Any) -> bool:
        """Set one field; True if the field is new."""

    @abc.abstractmethod
    async def hash_get(self, key: str, field: str) -> Any:
        """One field's value, or None."""

    @abc.abstractmethod
    async def hash_delete(self, key: str, *fields: str) -> int:
        """Remove fields; how many were there. An emptied hash is gone (with its TTL)."""

    @abc.abstractmethod
    async def hash_get_all(self, key: str) -> dict:
        """Every field and value."""


class Backplane(abc.ABC):
    """Rooms, broadcasts, state and questions shared by the server processes of one chat."""

    kind: str
    single_process_only: bool = False

    @property
    @abc.abstractmethod
    def manager(self) -> socketio.AsyncManager:
        """The python-socketio client manager the Socket.IO server uses (built once)."""

    @property
    @abc.abstractmethod
    def process_id(self) -> str:
        """This process's id in the cluster."""

    @abc.abstractmethod
    def store(self, namespace: str) -> Store:
        """The store part of one namespace (a plugin's name)."""

    @abc.abstractmethod
    def on_cluster_event(self, handler: ClusterEventHandler) -> None:
        """handler(name, fields) runs for every cluster event, in each process, the publisher's included."""

    @abc.abstractmethod
    async def publish_event(self, name: str, fields: dict) -> None:
        """Send a cluster event to every process (this one at once, in order with its messages)."""

    @abc.abstractmethod
    def reply(self, topic: str, handler: Replier) -> None:
        """Answer request(topic, ...) from any process with await handler(payload)."""

    @abc.abstractmethod
    async def request(self, topic: str, payload: Any, timeout: float) -> list[tuple[str, Any]]:
        """(process, answer) of each live process that answered within timeout, by process id."""

    @abc.abstractmethod
    async def processes(self) -> list[str]:
        """Ids of the live processes (this one included), sorted."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and start the background tasks (the server has started)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Deliver what can be delivered, then stop."""

    @abc.abstractmethod
    def health(self) -> dict:
        """Figures for /healthz: "connected" plus one dict per component."""


def jsonable(value: Any) -> Any:
    """value as plain JSON types (a session may hold anything; what JSON cannot hold becomes its repr)."""
    return json.loads(json.dumps(value, default=repr, skipkeys=True))


async def local_room_sockets(manager: socketio.AsyncManager, namespace: str, room: str) -> list[dict]:
    """Sockets of this process in room, with their session data."""
    server = manager.server
    out = []
    for sid, _eio_sid in list(manager.get_participants(namespace, room)):
        try:
            session = await server.get_session(sid, namespace=namespace)
        except KeyError:  # disconnected meanwhile
            continue
        out.append({"sid": sid, "session": jsonable(session)})
    return out


def local_room_count(manager: socketio.AsyncManager, namespace: str, room: str) -> int:
    """Members of room in this process."""
    return len(namespace_rooms(manager, namespace).get(room, {}))

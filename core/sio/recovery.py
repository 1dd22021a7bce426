"""Connection-state recovery, as Node's socket.io `connectionStateRecovery` speaks it to the official client.

A recovery-capable connection gets a private id (`pid`) in its CONNECT answer, and every event
sent to it carries an offset as its last argument, which the client keeps. When the connection
drops without the client asking (transport close, ping timeout, server shutdown), its sid, rooms
and session are kept for `max_disconnection_duration`: here, and in the backplane's shared
store when there is one. A client that comes back with `{pid, offset}` in its auth, on this
process or another, gets the same sid, rooms and session, then every event it missed, in order,
then live traffic; anything that cannot be honoured exactly is a normal new connection.

What an offset means: `"<stream id>~<n>"` says "this client has every event of the backplane's
stream up to <stream id> that did not come from the process it was connected to, and that
process's own events up to its sequence number <n>". Every delivery on a process moves exactly
one of the two forward, so a process's offsets grow in one order, and any process holding the
stream can work out what a client missed (core/backplane/redis_recovery.py); the process itself
also keeps its recent deliveries (`EventLog`) and resumes without Redis. The offset is the same
for every recipient of an event on a process, so a broadcast is still encoded once: the offset is
spliced into the encoded packet (`with_offset`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from core.base.settings import RecoverySettings

log = logging.getLogger("chat.recovery")

# What engineio/socketio call the ends a client did not ask for.
RECOVERABLE_REASONS = frozenset({"transport close", "ping timeout", "transport error"})
# Offset of events replayed before the last one: a client that drops in the middle of a replay
# comes back as a new connection instead of resuming from a position that is not one.
UNRESUMABLE = "-~0"


def with_offset(packet: str | list, offset: str) -> str | list:
    """An encoded EVENT packet (`2["ev",...]`, binary: a list) with offset appended as its last argument."""
    if isinstance(packet, list):  # binary: the JSON part first, attachments after
        return [with_offset(packet[0], offset), *packet[1:]]
    return f'{packet[:-1]},"{offset}"]'  # offsets are [0-9~-] only: nothing to escape


def addressed(room, skip, sid: str, rooms: set[str]) -> bool:
    """Whether an emit to `room` (None: everybody; a name; a list) skipping `skip` reached sid in rooms."""
    if skip is not None and (skip == sid or (isinstance(skip, (list, tuple, set)) and sid in skip)):
        return False
    if room is None:
        return True
    if isinstance(room, str):
        return room in rooms
    return any(r in rooms for r in room)


@dataclass(slots=True)
class Kept:
    """One event this process delivered, as it went out (without its offset)."""

    offset: str
    namespace: str
    room: Any
    skip: Any
    packet: str | list
    origin: str  # the process whose event it is (this one for its own)
    seq: int     # that process's sequence number for it
    at: float


class EventLog:
    """The events this process delivered lately, bounded in count and age, to replay to returning clients."""

    def __init__(self, cap: int, max_age: float, host_id: Callable[[], str]):
        self.cap, self.max_age = cap, max_age
        self.host_id = host_id
        self.entries: deque[Kept] = deque()
        self.total = 0        # entries ever added: the next entry's absolute index
        self.evicted_own = 0  # highest own sequence number no longer kept

    def add(self, kept: Kept) -> None:
        entries = self.entries
        entries.append(kept)
        self.total += 1
        while len(entries) > self.cap or entries[0].at < kept.at - self.max_age:
            gone = entries.popleft()
            if gone.origin == self.host_id():
                self.evicted_own = gone.seq

    def index_of(self, offset: str) -> int | None:
        """Absolute index just after the entry that carried offset; None when it is not kept."""
        entries = self.entries
        for index in range(len(entries) - 1, -1, -1):
            if entries[index].offset == offset:
                return self.total - len(entries) + index + 1
        return None

    def since(self, mark: int) -> list[Kept] | None:
        """Entries from absolute index mark on; None if some of them are gone."""
        first = self.total - len(self.entries)
        if mark < first:
            return None
        return [self.entries[i] for i in range(mark - first, len(self.entries))]

    def own_after(self, seq: int) -> list[Kept] | None:
        """This process's own entries with a sequence number above seq; None if some are gone."""
        if self.evicted_own > seq:
            return None
        me = self.host_id()
        return [e for e in self.entries if e.origin == me and e.seq > seq]


class Backplane(Protocol):
    """What recovery needs from the backplane's manager (core.sio.fanout.FanoutManager has the defaults)."""

    host_id: str
    sessions: Any  # shared store of kept sessions (save/take/...), None: this process only

    def current_offset(self) -> str: ...

    def encode_event(self, message: dict) -> str | list: ...

    def skip_until(self, sid: str, origin: str, seq: int) -> None: ...

    async def missed_since(self, host: str, offset: str, limit: int) -> "StreamReplay | None": ...


@dataclass(slots=True)
class StreamReplay:
    """What a client missed according to the stream; valid until the caller's next await."""

    messages: list[dict]   # stream emit messages after the client's position, in order
    own_read: int          # this process's own sequence numbers the stream has given back so far
    skip_origin: tuple[str, int] | None  # (process, seq): its events up to seq reached the client already


@dataclass
class Restore:
    """A kept session being restored: its record and the events it missed up to `mark`."""

    record: dict
    offset: str
    packets: list = field(default_factory=list)   # ready to send, offsets set
    mark: int = 0                                 # EventLog index the packets cover up to
    skip_origin: tuple[str, int] | None = None
    missed: int = 0


class Recovery:
    """Keeps dropped connections' state and works out what a returning client missed."""

    def __init__(self, settings: RecoverySettings, manager):
        self.settings = settings
        self.window = settings.max_disconnection_duration
        self.manager = manager
        self.log = EventLog(settings.max_kept_events, self.window, lambda: manager.host_id)
        self.capable: set[str] = set()          # sids that get offsets
        self.pids: dict[str, str] = {}          # sid -> pid, connected capable clients
        self.bases: dict[str, tuple[str, str]] = {}  # sid -> (host, offset) it came back with
        self.pending: set[str] = set()          # sids whose disconnect keeps their state
        self.restoring: dict[str, Restore] = {}  # sids whose connect hooks run for a restore
        self.local: OrderedDict[str, tuple[dict, float, list]] = OrderedDict()  # pid -> (record, until, [shared])
        self.on_recovered: Callable[[str, str, int], Awaitable[None]] | None = None  # (sid, ns, missed)
        self.shutting_down = False
        self.counts = {"kept": 0, "recovered": 0, "refused": 0}
        self._said_unshared = False

    # Offsets on the way out ---------------------------------------------------------------

    def wants_offsets(self, auth) -> bool:
        """Whether a connecting client gets a pid and offsets (see `clients` in the config)."""
        if self.settings.clients == "all":
            return True
        return isinstance(auth, dict) and (auth.get("recover") is True or isinstance(auth.get("pid"), str))

    def new_pid(self) -> str:
        return secrets.token_urlsafe(16)

    def connected(self, sid: str, pid: str) -> None:
        self.capable.add(sid)
        self.pids[sid] = pid

    def record(self, offset: str, origin: str, seq: int, namespace: str, room, skip, packet) -> None:
        """Keep a delivered event for clients coming back to this process."""
        self.log.add(Kept(offset, namespace, room, skip, packet, origin, seq, time.monotonic()))

    # Disconnect: keep the state ----------------------------------------------------------

    def recoverable(self, sid: str, reason: str | None, engine_closed: bool) -> bool:
        """Whether this end keeps the connection's state (not after the client's own disconnect())."""
        if sid not in self.capable:
            return False
        if self.shutting_down or reason in RECOVERABLE_REASONS:
            return True
        # An Engine.IO close without a Socket.IO DISCONNECT first: the transport went, not the client.
        return engine_closed and reason == "client disconnect"

    def snapshot(self, sid: str, namespace: str, rooms: list[str], data: dict) -> dict | None:
        """The record kept for a dropping connection (its session copied: hooks may change it)."""
        try:
            data = json.loads(json.dumps(data))
        except (TypeError, ValueError) as exc:
            log.warning("not keeping %s for recovery: its session is not JSON (%s)", sid, exc)
            return None
        base = self.bases.get(sid)
        return {"sid": sid, "pid": self.pids.get(sid), "ns": namespace, "rooms": rooms, "data": data,
                "host": self.manager.host_id, "gen": secrets.token_hex(6), "at": time.time(),
                "base": list(base) if base else None}

    def forget(self, sid: str) -> None:
        self.capable.discard(sid)
        self.pids.pop(sid, None)
        self.bases.pop(sid, None)

    def keep_locally(self, record: dict) -> list:
        """Keep the record here at once (a quick reconnect to this process needs no Redis)."""
        now = time.monotonic()
        while self.local:
            pid, (_, until, _) = next(iter(self.local.items()))
            if until > now:
                break
            self.local.pop(pid)
        shared = [None]  # None: being written, True: in the shared store, False: not there
        self.local[record["pid"]] = (record, now + self.window, shared)
        self.counts["kept"] += 1
        return shared

    async def keep_shared(self, record: dict, shared: list) -> None:
        """Write the record where every process can find it; when that fails only this one can."""
        store = self.manager.sessions
        if store is None:
            shared[0] = False
            return
        try:
            await store.save(record, self.window)
        except Exception as exc:  # Redis away: this process keeps its copy
            shared[0] = False
            if not self._said_unshared:
                self._said_unshared = True
                log.warning("dropped connections are kept on this process only while the shared "
                            "store is unreachable (%s: %s)", type(exc).__name__, exc)
            return
        shared[0] = True
        if record["pid"] not in self.local:  # restored here while the write was in flight
            try:
                await store.take(record["pid"])
            except Exception:
                pass  # it expires with the window

    # Connect: restore ----------------------------------------------------------------------

    async def find(self, pid: str) -> dict | None:
        """Take the kept record of pid (once: a second claim finds nothing)."""
        local = self.local.pop(pid, None)
        if local is not None and local[1] < time.monotonic():
            local = None
        store = self.manager.sessions
        if store is None or (local is not None and local[2][0] is not True):
            record = local[0] if local else None  # never reached (or not yet in) the shared store
        else:
            try:
                record = await store.take(pid)
            except Exception as exc:
                if local is None:
                    log.info("cannot look up %s…: shared store unreachable (%s)", pid[:6], exc)
                    return None
                record = local[0]  # Redis away: our own copy is all there is, and it is exact
        if record is not None and time.time() - record["at"] > self.window:
            return None
        return record

    async def restore(self, pid: str, offset: str, namespace: str) -> Restore | None:
        """The session kept for pid and what it missed since offset, or None (connect as new)."""
        record = await self.find(pid)
        if record is None:
            return self._refuse(pid, "unknown or expired pid")
        if record["ns"] != namespace:
            return self._refuse(pid, "kept for another namespace")
        restore = Restore(record, offset)
        host = record["host"]
        base = record.get("base")
        if base and base[1] == offset:
            host = base[0]  # nothing arrived since its last restore: still its old host's terms
        if host == self.manager.host_id:
            mark = self.log.index_of(offset)
            if mark is not None:  # it left this process, which kept everything since
                restore.mark = mark
                return restore
        replay = await self.manager.missed_since(host, offset, self.settings.max_kept_events)
        # No await from here on: the replay and self.log describe the same instant.
        if replay is None:
            return self._refuse(pid, "its offset is not in the stream (trimmed, reset or unknown)")
        own_seq = _own_seq(offset) if host == self.manager.host_id else 0
        own = self.log.own_after(max(replay.own_read, own_seq))
        if own is None:
            return self._refuse(pid, "this process no longer keeps its own events since then")
        sid, rooms = record["sid"], {record["sid"], *record["rooms"]}
        packets = [self.manager.encode_event(m) for m in replay.messages
                   if m.get("namespace", "/") == namespace and addressed(m.get("room"), m.get("skip_sid"), sid, rooms)]
        packets += [k.packet for k in own if k.namespace == namespace and addressed(k.room, k.skip, sid, rooms)]
        # Offsets the client could not resume from, but the last: this process's position now.
        restore.packets = [with_offset(p, UNRESUMABLE) for p in packets[:-1]]
        if packets:
            restore.packets.append(with_offset(packets[-1], self.manager.current_offset()))
        restore.mark = self.log.total
        restore.skip_origin = replay.skip_origin
        return restore

    def finish(self, restore: Restore) -> bool:
        """Add what this process delivered since restore.mark (connect hooks ran meanwhile); no await."""
        kept = self.log.since(restore.mark)
        if kept is None:
            return False
        record = restore.record
        sid, rooms, namespace = record["sid"], {record["sid"], *record["rooms"]}, record["ns"]
        skip = restore.skip_origin
        for k in kept:
            if k.namespace == namespace and addressed(k.room, k.skip, sid, rooms) and \
                    not (skip and k.origin == skip[0] and k.seq <= skip[1]):
                restore.packets.append(with_offset(k.packet, k.offset))
        restore.missed = len(restore.packets)
        return True

    def _refuse(self, pid: str, why: str) -> None:
        self.counts["refused"] += 1
        log.info("connection state of %s… not recovered: %s; connecting as new", pid[:6], why)
        return None

    def restored(self, sid: str, restore: Restore) -> None:
        """The restored connection is live again."""
        record = restore.record
        self.connected(sid, record["pid"])
        if not restore.packets:  # the client still holds the offset it came with
            base = record.get("base")
            host = base[0] if base and base[1] == restore.offset else record["host"]
            self.bases[sid] = (host, restore.offset)
        if restore.skip_origin is not None:
            self.manager.skip_until(sid, *restore.skip_origin)
        self.counts["recovered"] += 1
        log.info("recovered %s: %d missed event(s) delivered", sid, restore.missed)

    def health(self) -> dict:
        """Figures for /healthz."""
        return {"enabled": True, "window": self.window, "waiting": len(self.local),
                "kept_events": len(self.log.entries), **self.counts}


def _own_seq(offset: str) -> int:
    try:
        return int(offset.rsplit("~", 1)[1])
    except (IndexError, ValueError):
        return 0

"""The cluster-wide roster in the shared store: one entry per connection in a room, written by its process.

Keys (in the plugin's own store namespace):

- `room:<room>`  hash: connection id -> {"n": nickname, "s": since (ms since the epoch), "p": process id}
- `proc:<id>`    hash: connection id -> room, the entries a process wrote (to release them if it dies)
- `procs`        set of the process ids that have written entries

An entry is written and removed only by the process that holds the connection, except when that
process is dead: then whichever survivor's `hash_delete` removes it (Redis answers 1 to exactly
one of them) reports the "left", so every change is reported once whatever the number of processes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

PROCESSES = "procs"
MAX_IDS_LISTED = 10  # connection ids listed per member in a members() answer


def room_key(room: str) -> str:
    return f"room:{room}"


def process_key(process: str) -> str:
    return f"proc:{process}"


def new_id() -> str:
    """An opaque connection-in-room id (never the sid: it is shown to every member)."""
    return secrets.token_urlsafe(6)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Entry:
    """One connection in one room."""

    id: str
    room: str
    nick: str
    since: int


@dataclass(frozen=True)
class Change:
    """A connection that joined or left a room, as the diffs report it."""

    room: str
    id: str
    nick: str
    since: int | None = None  # joins only
    reason: str | None = None  # leaves only: left, renamed, disconnected, lost

    @property
    def joined(self) -> bool:
        return self.reason is None

    def wire(self) -> dict:
        """The diff entry the clients get."""
        if self.joined:
            return {"id": self.id, "nickName": self.nick, "since": self.since}
        return {"id": self.id, "nickName": self.nick, "reason": self.reason}


class Roster:
    """Reads and writes the roster in ctx.store; `process` is this process's cluster id."""

    def __init__(self, store, process: str):
        self.store = store
        self.process = process

    async def register(self) -> None:
        """Say that this process has (or will have) entries, so survivors release them if it dies."""
        await self.store.set_add(PROCESSES, self.process)

    async def add(self, entry: Entry) -> bool:
        """Write entry; True if it was not there (a re-write after the store lost it may find it)."""
        # The process index first: a process dying in between leaves nothing that cannot be released.
        await self.store.hash_set(process_key(self.process), entry.id, entry.room)
        return await self.store.hash_set(room_key(entry.room), entry.id,
                                         {"n": entry.nick, "s": entry.since, "p": self.process})

    async def remove(self, entry: Entry) -> bool:
        """Delete entry; True if this call removed it (False: a survivor released it already)."""
        removed = await self.store.hash_delete(room_key(entry.room), entry.id)
        await self.store.hash_delete(process_key(self.process), entry.id)
        return removed > 0

    async def unregister(self) -> None:
        """This process has no entries any more (a clean shutdown)."""
        await self.store.set_remove(PROCESSES, self.process)

    async def registered(self) -> bool:
        """Whether the store still knows this process (False after Redis lost its data, or a sweep)."""
        return self.process in await self.store.set_members(PROCESSES)

    async def dead_processes(self, live: set[str]) -> list[str]:
        """Processes that wrote entries and are not live any more."""
        return [p for p in await self.store.set_members(PROCESSES) if p not in live and p != self.process]

    async def release(self, process: str) -> list[Change]:
        """Remove a dead process's entries; the "left" changes this call is the one to report."""
        index = await self.store.hash_get_all(process_key(process))
        changes = []
        for conn_id, room in index.items():
            value = await self.store.hash_get(room_key(room), conn_id)
            if await self.store.hash_delete(room_key(room), conn_id) and isinstance(value, dict):
                changes.append(Change(room, conn_id, str(value.get("n", "")), reason="lost"))
        if index:
            await self.store.hash_delete(process_key(process), *index)
        await self.store.set_remove(PROCESSES, process)
        return changes

    async def members(self, room: str, live: set[str], listed: int) -> dict:
        """The room's members on live processes, one per nickname, oldest first, at most `listed`."""
        groups: dict[str, dict] = {}
        connections = 0
        for conn_id, value in (await self.store.hash_get_all(room_key(room))).items():
            if not isinstance(value, dict) or value.get("p") not in live:
                continue  # a dead process's entry, until a survivor releases it
            connections += 1
            nick, since = str(value.get("n", "")), int(value.get("s") or 0)
            group = groups.get(nick)
            if group is None:
                groups[nick] = {"nickName": nick, "since": since, "count": 1, "ids": [conn_id]}
            else:
                group["since"] = min(group["since"], since)
                group["count"] += 1
                if len(group["ids"]) < MAX_IDS_LISTED:
                    group["ids"].append(conn_id)
        ordered = sorted(groups.values(), key=lambda g: (g["since"], g["nickName"]))
        return {"members": ordered[:listed], "total": len(groups), "connections": connections}

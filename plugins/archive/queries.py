"""Reading the archive: pages of a room's messages, a room's export, recent messages, retention."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import asyncpg

EVERYBODY = ""  # the everybody-chat's room key


def millis(at: datetime) -> int:
    """Epoch milliseconds: what pages and history items carry (`new Date(at)` in JavaScript)."""
    return int(at.timestamp() * 1000)


def message_item(record) -> dict:
    """A message as the REST route and the history plugin show it."""
    return {"id": record["key"], "nickName": record["nickname"], "msg": record["payload"],
            "at": millis(record["at"])}


async def page(conn: asyncpg.Connection, room: str, before: int | None, limit: int,
               before_at: int | None = None, before_id: str | None = None) -> dict:
    """Up to `limit` messages of `room` older than the cursor `before`, newest first.

    A page continues below the history it was shown with `before_id`, the message id of the
    oldest message it shows (exact), or, when that one is not archived, `before_at` (epoch ms).
    """
    if before is None and before_id is not None:
        before = await conn.fetchval("SELECT id FROM archive_events WHERE key = $1 AND room = $2",
                                     before_id, room)
    if before is None and before_at is not None:
        rows = await conn.fetch(
            "SELECT id, key, nickname, payload, at FROM archive_events WHERE room = $1 AND kind = 'message' "
            "AND at < $2 ORDER BY id DESC LIMIT $3", room,
            datetime.fromtimestamp(before_at / 1000, timezone.utc), limit + 1)
    elif before is None:
        rows = await conn.fetch(
            "SELECT id, key, nickname, payload, at FROM archive_events WHERE room = $1 AND kind = 'message' "
            "ORDER BY id DESC LIMIT $2", room, limit + 1)
    else:
        rows = await conn.fetch(
            "SELECT id, key, nickname, payload, at FROM archive_events WHERE room = $1 AND kind = 'message' "
            "AND id < $2 ORDER BY id DESC LIMIT $3", room, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"messages": [message_item(r) for r in rows],
            "next": str(rows[-1]["id"]) if more else None}


async def recent(conn: asyncpg.Connection, rooms: int, per_room: int, max_age: float) -> dict[str, list[dict]]:
    """The newest `per_room` messages (oldest first) of the `rooms` most recently active rooms."""
    since = datetime.now(timezone.utc) - timedelta(seconds=max_age)
    active = await conn.fetch(
        "SELECT room FROM archive_events WHERE kind = 'message' AND at >= $1 GROUP BY room "
        "ORDER BY max(id) DESC LIMIT $2", since, rooms)
    out: dict[str, list[dict]] = {}
    for record in active:
        rows = await conn.fetch(
            "SELECT id, key, nickname, payload, at FROM archive_events WHERE room = $1 AND kind = 'message' "
            "AND at >= $2 ORDER BY id DESC LIMIT $3", record["room"], since, per_room)
        out[record["room"]] = [message_item(r) for r in reversed(rows)]
    return out


async def export(conn: asyncpg.Connection, room: str, chunk: int = 1000) -> AsyncIterator[dict]:
    """Every archived event of `room`, oldest first (a server-side cursor: memory stays flat)."""
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(
                "SELECT id, kind, event, nickname, payload, at FROM archive_events WHERE room = $1 "
                "ORDER BY id", room, prefetch=chunk):
            yield {"id": r["id"], "at": millis(r["at"]), "kind": r["kind"], "event": r["event"],
                   "nickName": r["nickname"], "data": r["payload"]}


async def expire(conn: asyncpg.Connection, keep_days: int, chunk: int = 10_000) -> int:
    """Delete events older than keep_days, a chunk per statement (short locks); returns how many."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=keep_days)
    total = 0
    while True:
        status = await conn.execute(
            "DELETE FROM archive_events WHERE id IN "
            "(SELECT id FROM archive_events WHERE at < $1 LIMIT $2)", cutoff, chunk)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < chunk:
            return total

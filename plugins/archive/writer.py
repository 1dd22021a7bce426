"""Rows reach PostgreSQL in batches from a bounded buffer; the chat never waits for the database."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import asyncpg

from .db import ERRORS

# One statement per batch, whatever its size; ON CONFLICT makes a retried batch harmless.
_INSERT = """
    INSERT INTO archive_events (key, room, kind, event, nickname, payload, at)
    SELECT k, r, ki, e, n, p::jsonb, a
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::timestamptz[]) WITH ORDINALITY AS u(k, r, ki, e, n, p, a, ord)
    ORDER BY ord
    ON CONFLICT (key) DO NOTHING
"""


@dataclass(slots=True)
class Row:
    """One archived chat event."""

    key: str
    room: str          # '' for the everybody-chat
    kind: str          # message, event, entered, left
    event: str
    nickname: str | None
    payload: Any
    at: datetime

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)


class Writer:
    """A bounded buffer of rows and the task that writes them, in order, in batches.

    While PostgreSQL is down or slow the rows wait here (up to `capacity`); rows beyond are
    dropped, counted and reported once per outage. A batch leaves the buffer only once its
    transaction committed; a batch whose outcome is unknown (a timeout, a reset) is sent again
    and its keys make the second insert a no-op.
    """

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], *, capacity: int,
                 batch_size: int, retry_interval: float, logger: logging.Logger):
        self._connect = connect
        self._capacity = capacity
        self._batch_size = batch_size
        self._retry = retry_interval
        self._log = logger
        self._rows: deque[Row] = deque()
        self._wakeup = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self.connected = False
        self.written = 0
        self.dropped = 0
        self.batches = 0
        self._dropped_reported = 0
        self._down_since: float | None = None
        self._last_error = ""

    def add(self, row: Row) -> None:
        """Queue a row; never waits. Past capacity the row is dropped and counted."""
        if len(self._rows) >= self._capacity:
            if self.dropped == self._dropped_reported:
                self._log.warning("archive buffer full (%d rows) while PostgreSQL is unreachable or "
                                  "slow: dropping new rows and counting them", self._capacity)
            self.dropped += 1
            return
        self._rows.append(row)
        self._wakeup.set()

    def health(self) -> dict:
        return {"connected": self.connected, "buffered": len(self._rows), "written": self.written,
                "dropped": self.dropped, **({"error": self._last_error} if not self.connected else {})}

    @property
    def buffered(self) -> int:
        return len(self._rows)

    async def run(self) -> None:
        """Write until cancelled; reconnects after every failure."""
        try:
            while True:
                if not self._rows:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                batch = [self._rows[i] for i in range(min(self._batch_size, len(self._rows)))]
                try:
                    await self._write(batch)
                except ERRORS as exc:
                    await self._failed(exc)
                    await asyncio.sleep(self._retry)
                    continue
                for _ in batch:
                    self._rows.popleft()
                self.written += len(batch)
                self.batches += 1
                self._succeeded()
        finally:
            await self._close()

    async def flush(self, timeout: float) -> bool:
        """Wait (up to timeout) until the buffer is empty; True if it is."""
        deadline = time.monotonic() + timeout
        while self._rows and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self._rows

    async def _write(self, batch: list[Row]) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        columns = ([r.key for r in batch], [r.room for r in batch], [r.kind for r in batch],
                   [r.event for r in batch], [r.nickname for r in batch],
                   [json.dumps(r.payload, separators=(",", ":"), ensure_ascii=False) for r in batch],
                   [r.at for r in batch])
        await self._conn.execute(_INSERT, *columns)

    async def _failed(self, exc: Exception) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._down_since is None:  # once per outage
            self._log.warning("archive: PostgreSQL write failed (%s); buffering up to %d rows and "
                              "retrying every %ss", self._last_error, self._capacity, self._retry)
            self._down_since = time.monotonic()
        self.connected = False
        await self._close()

    def _succeeded(self) -> None:
        self.connected = True
        if self._down_since is not None:
            self._log.info("archive: PostgreSQL writes resumed after %.1fs; %d row(s) still buffered",
                           time.monotonic() - self._down_since, len(self._rows))
            self._down_since = None
        if self.dropped != self._dropped_reported:
            self._log.warning("archive: %d row(s) were dropped because the buffer of %d was full",
                              self.dropped - self._dropped_reported, self._capacity)
            self._dropped_reported = self.dropped

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # a stalled server must not hold up a clean close

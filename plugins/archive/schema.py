"""The archive's tables, created or migrated at start by numbered steps recorded in schema_version."""

from __future__ import annotations

import asyncpg

# An arbitrary constant: processes starting together migrate one at a time.
_LOCK_KEY = 7_215_015

# (version, description, SQL). Append new steps; never edit one that has shipped.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "chat events", """
        CREATE TABLE archive_events (
            id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the pagination cursor
            key       text NOT NULL UNIQUE,        -- idempotency key: a retried batch inserts nothing twice
            room      text NOT NULL,               -- '' is the everybody-chat (room ids are never empty)
            kind      text NOT NULL,               -- message, event (test1/test2), entered, left
            event     text NOT NULL,               -- the client's socket event (groupmsg, broadcast, ...)
            nickname  text,
            payload   jsonb,                       -- message: msg; event: its arguments; left: the reason
            at        timestamptz NOT NULL
        );
        CREATE INDEX archive_events_messages ON archive_events (room, id) WHERE kind = 'message';
        CREATE INDEX archive_events_room ON archive_events (room, id);
        CREATE INDEX archive_events_at ON archive_events (at);
    """),
]

LATEST = MIGRATIONS[-1][0]


async def migrate(conn: asyncpg.Connection) -> tuple[int, int]:
    """Apply the steps this database lacks, in one transaction; returns (version before, after)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute("""
            CREATE TABLE IF NOT EXISTS schema_version (
                version     integer PRIMARY KEY,
                description text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )""")
        before = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if before > LATEST:
            raise RuntimeError(f"the database's archive schema is version {before}, newer than this "
                               f"server's {LATEST}; upgrade the server")
        for version, description, sql in MIGRATIONS:
            if version > before:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version, description) VALUES ($1, $2)",
                                   version, description)
    return before, LATEST

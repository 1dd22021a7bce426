"""A uniquely named database on the machine's PostgreSQL (127.0.0.1:5432), created and dropped by the test."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg

# Where the tests find PostgreSQL (`.ci/run` starts it when it is not running).
ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def dsn_for(database: str, host: str = "127.0.0.1", port: int | None = None) -> str:
    """The DSN of database on the test server (or through a proxy at host:port)."""
    base = ADMIN_DSN.rsplit("/", 1)[0]
    if port is not None:
        scheme, _, rest = base.partition("://")
        user = rest.split("@", 1)[0] if "@" in rest else ""
        base = f"{scheme}://{user + '@' if user else ''}{host}:{port}"
    return f"{base}/{database}"


class Database:
    """CREATE DATABASE chat_test_<random> on enter, DROP ... WITH (FORCE) on exit."""

    def __init__(self):
        self.name = f"chat_test_{uuid.uuid4().hex[:12]}"
        self.dsn = dsn_for(self.name)

    async def create(self) -> "Database":
        try:
            conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            raise RuntimeError(f"PostgreSQL is not reachable at {ADMIN_DSN} ({exc}); `.ci/run` and "
                               f"`make test` start it (pg_ctlcluster ... main start)") from exc
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        return self

    async def drop(self) -> None:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def fetch(self, query: str, *args):
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def fetchval(self, query: str, *args):
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    def drop_sync(self) -> None:
        asyncio.run(self.drop())

"""Connections to the archive database: JSON columns decoded, timeouts short enough for a chat."""

from __future__ import annotations

import asyncio
import json

import asyncpg

# What a database that is down, slow or restarting raises: the archive retries, the chat goes on.
ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb comes back as Python values (asyncpg returns text otherwise)."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str, connect_timeout: float, command_timeout: float) -> asyncpg.Connection:
    """One connection, ready for the archive's queries."""
    conn = await asyncpg.connect(dsn, timeout=connect_timeout, command_timeout=command_timeout)
    try:
        await init_connection(conn)
    except BaseException:
        conn.terminate()
        raise
    return conn


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for log lines."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"

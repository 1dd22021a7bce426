"""The archive's storage on a real PostgreSQL: migration, batched idempotent writes, pages, retention, export."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from datetime import timedelta

import pytest

from plugins.archive import db, queries, schema
from plugins.archive.writer import Row, Writer
from tests.support.postgres import dsn_for
from tests.support.server import ROOT

log = logging.getLogger("test.archive")


def make_row(key: str, room: str = "r1", msg="hi", nickname="ann", kind="message", at=None) -> Row:
    return Row(key, room, kind, "groupmsg", nickname, msg, at or Row.now())


async def migrated(database):
    conn = await db.connect(database.dsn, 5, 10)
    await schema.migrate(conn)
    return conn


async def test_migration_creates_the_schema_once_and_records_its_version(database):
    conn = await db.connect(database.dsn, 5, 10)
    try:
        assert await schema.migrate(conn) == (0, schema.LATEST)
        assert await schema.migrate(conn) == (schema.LATEST, schema.LATEST)
        # Two processes starting together: the advisory lock makes the second wait, then do nothing.
        other = await db.connect(database.dsn, 5, 10)
        try:
            results = await asyncio.gather(schema.migrate(conn), schema.migrate(other))
        finally:
            await other.close()
        assert results == [(schema.LATEST, schema.LATEST)] * 2
        rows = await conn.fetch("SELECT version, description FROM schema_version ORDER BY version")
        assert [(r["version"], r["description"]) for r in rows] == [(v, d) for v, d, _ in schema.MIGRATIONS]
    finally:
        await conn.close()


async def test_a_newer_schema_is_refused_with_a_clear_error(database):
    conn = await migrated(database)
    try:
        await conn.execute("INSERT INTO schema_version (version, description) VALUES (999, 'future')")
        with pytest.raises(RuntimeError, match="newer than this server"):
            await schema.migrate(conn)
    finally:
        await conn.close()


async def test_writer_batches_and_a_resent_batch_is_written_once(database):
    (await migrated(database)).terminate()
    writer = Writer(lambda: db.connect(database.dsn, 5, 10), capacity=1000, batch_size=100,
                    retry_interval=0.1, logger=log)
    task = asyncio.create_task(writer.run())
    try:
        rows = [make_row(f"p:{i}", msg={"n": i}) for i in range(250)]
        for r in rows:
            writer.add(r)
        assert await writer.flush(5)
        assert writer.batches <= 3 + 1  # 250 rows, at most 100 a statement (one may start early)
        for r in rows[:120]:  # the same keys again: what a retry after an unknown outcome sends
            writer.add(r)
        assert await writer.flush(5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    got = await database.fetch("SELECT key, payload FROM archive_events ORDER BY id")
    assert [r["key"] for r in got] == [f"p:{i}" for i in range(250)]
    assert json.loads(got[7]["payload"]) == {"n": 7}
    assert writer.health()["dropped"] == 0


async def test_pages_walk_ten_thousand_messages_newest_first_without_gaps(database):
    conn = await migrated(database)
    try:
        await conn.execute(
            "INSERT INTO archive_events (key, room, kind, event, nickname, payload, at) "
            "SELECT 'k' || g, 'big', 'message', 'groupmsg', 'ann', to_jsonb(g), now() FROM generate_series(1, 10000) g")
        await conn.execute(  # other rooms and kinds stay out of the pages
            "INSERT INTO archive_events (key, room, kind, event, nickname, payload, at) VALUES "
            "('x1', 'other', 'message', 'groupmsg', 'bob', '\"no\"', now()), "
            "('x2', 'big', 'entered', 'entry', 'bob', NULL, now())")
        seen, before, pages = [], None, 0
        while True:
            page = await queries.page(conn, "big", before, 500)
            pages += 1
            seen += [m["msg"] for m in page["messages"]]
            if page["next"] is None:
                break
            before = int(page["next"])
        assert seen == list(range(10000, 0, -1))
        assert pages == 20
        first = (await queries.page(conn, "big", None, 3))["messages"]
        assert [m["msg"] for m in first] == [10000, 9999, 9998]
        assert set(first[0]) == {"id", "nickName", "msg", "at"}
    finally:
        await conn.close()


async def test_retention_deletes_only_what_is_older_than_keep_days(database):
    conn = await migrated(database)
    try:
        old = Row.now() - timedelta(days=10)
        await conn.executemany(
            "INSERT INTO archive_events (key, room, kind, event, nickname, payload, at) "
            "VALUES ($1, 'r', 'message', 'groupmsg', 'a', '1', $2)",
            [(f"old{i}", old) for i in range(25)] + [(f"new{i}", Row.now()) for i in range(5)])
        assert await queries.expire(conn, keep_days=7, chunk=10) == 25
        assert await conn.fetchval("SELECT count(*) FROM archive_events") == 5
    finally:
        await conn.close()


async def test_export_command_writes_json_lines_oldest_first(database, tmp_path):
    conn = await migrated(database)
    try:
        await conn.execute(
            "INSERT INTO archive_events (key, room, kind, event, nickname, payload, at) VALUES "
            "('a', 'den', 'entered', 'entry', 'ann', NULL, now()), "
            "('b', 'den', 'message', 'groupmsg', 'ann', '{\"t\": \"héllo\"}', now()), "
            "('c', 'elsewhere', 'message', 'groupmsg', 'bob', '1', now()), "
            "('d', 'den', 'left', 'leave', 'ann', '\"left\"', now())")
    finally:
        await conn.close()
    out = tmp_path / "den.jsonl"
    done = subprocess.run([sys.executable, "-m", "plugins.archive.export", "den", "--dsn", database.dsn,
                           "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "exported 3 event(s)" in done.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(e["kind"], e["nickName"], e["data"]) for e in lines] == [
        ("entered", "ann", None), ("message", "ann", {"t": "héllo"}), ("left", "ann", "left")]
    unreachable = subprocess.run([sys.executable, "-m", "plugins.archive.export", "den", "--dsn",
                                  dsn_for(database.name, port=1)], cwd=ROOT, capture_output=True,
                                 text=True, timeout=30)
    assert unreachable.returncode == 1 and "export failed" in unreachable.stderr


async def test_writer_buffers_through_a_stalled_database_and_counts_what_overflows(database, pg_proxy, caplog):
    (await migrated(database)).terminate()
    dsn = dsn_for(database.name, port=pg_proxy.port)
    writer = Writer(lambda: db.connect(dsn, 0.5, 0.5), capacity=100, batch_size=10,
                    retry_interval=0.1, logger=log)
    task = asyncio.create_task(writer.run())
    try:
        for i in range(20):
            writer.add(make_row(f"s:{i}"))
        assert await writer.flush(5)
        pg_proxy.stall()
        for i in range(20, 150):  # 130 rows while nothing gets through: 100 fit
            writer.add(make_row(f"s:{i}"))
            await asyncio.sleep(0.005)
        await asyncio.sleep(1.5)
        assert writer.health()["connected"] is False
        assert writer.health()["dropped"] == 30 and writer.health()["buffered"] == 100
        pg_proxy.reset()  # the stalled connections die; the writer reconnects once it is back
        pg_proxy.resume()
        assert await writer.flush(10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    keys = [r["key"] for r in await database.fetch("SELECT key FROM archive_events ORDER BY id")]
    assert keys == [f"s:{i}" for i in range(120)]  # in order, none twice, the overflow missing
    assert writer.health()["connected"] is True
    full = [r for r in caplog.records if "buffer full" in r.getMessage()]
    assert len(full) == 1  # logged once, not per dropped row

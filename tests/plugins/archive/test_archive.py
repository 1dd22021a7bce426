"""archive in the real server: every message in PostgreSQL, pages over REST, outages buffered, restarts survived."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import pytest

from tests.plugins.history.helpers import (FAST, eventually, fetch, health, on_redis, with_archive,
                                           with_history)
from tests.plugins.wire import OK, ServerLog, new_room
from tests.support.postgres import dsn_for
from tests.support.server import free_port, merge

pytestmark = [pytest.mark.asyncio]


def messages_url(server, room: str | None, **query) -> str:
    path = "/api/chat/messages" if room is None else f"/api/rooms/{urllib.parse.quote(room, safe='')}/messages"
    return server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")


async def archived(server, room, count: int) -> list[dict]:
    async def enough():
        status, body = await fetch(messages_url(server, room, limit=1000))
        return body["messages"] if status == 200 and len(body["messages"]) >= count else None
    return await eventually(enough, timeout=15)


async def test_messages_entries_and_leaves_are_archived_and_served_newest_first(start_server, clients, database):
    server = start_server(merge(FAST, with_archive(database.dsn, max_page_size=3)))
    await eventually(lambda: _connected(server))
    room = new_room("den")
    alice = await clients.python(server.url)
    assert await alice.call("entry", room, "alice") == OK
    for i in range(5):
        assert await alice.call("groupmsg", room, {"nickName": "alice", "msg": f"m{i}"}) == OK
    assert await alice.call("broadcast", "to all") == OK
    assert await alice.call("test1", "x", [1]) == OK
    assert await alice.call("leave", room) == OK

    # limit=1000 is capped at max_page_size (3)
    page = await eventually(lambda: _page_when(server, room, lambda p: p["messages"][:1] and
                                               p["messages"][0]["msg"]["msg"] == "m4", limit=1000))
    assert [m["msg"]["msg"] for m in page["messages"]] == ["m4", "m3", "m2"]
    assert page["room"] == room and page["messages"][0]["nickName"] == "alice"
    status, rest = await fetch(messages_url(server, room, before=page["next"], limit=3))
    assert status == 200 and [m["msg"]["msg"] for m in rest["messages"]] == ["m1", "m0"] and rest["next"] is None
    status, chat = await fetch(messages_url(server, None))
    assert status == 200 and [m["msg"] for m in chat["messages"]] == ["to all"]
    for bad in ({"limit": "x"}, {"limit": 0}, {"before": "-1"}):
        status, body = await fetch(messages_url(server, room, **bad))
        assert status == 400 and "must be" in body["error"]
    await eventually(lambda: database.fetchval("SELECT count(*) = 9 FROM archive_events"))
    kinds = await database.fetch("SELECT kind, event, nickname FROM archive_events WHERE room = $1 ORDER BY id", room)
    assert [(r["kind"], r["event"]) for r in kinds] == [("entered", "entry")] + [("message", "groupmsg")] * 5 + [("left", "leave")]
    others = await database.fetch("SELECT kind, event, payload FROM archive_events WHERE room = '' ORDER BY id")
    assert [(r["kind"], r["event"]) for r in others] == [("message", "broadcast"), ("event", "test1")]
    version = await database.fetchval("SELECT max(version) FROM schema_version")
    assert (await health(server))["plugins"]["archive"]["schema_version"] == version


async def _connected(server):
    figures = (await health(server))["plugins"].get("archive", {})
    return figures.get("connected") is True


async def _page_when(server, room, condition, **query):
    status, body = await fetch(messages_url(server, room, **query))
    return body if status == 200 and condition(body) else None


async def test_rest_pagination_walks_ten_thousand_messages(start_server, database):
    server = start_server(with_archive(database.dsn))
    await eventually(lambda: _connected(server))
    await database.fetch(
        "INSERT INTO archive_events (key, room, kind, event, nickname, payload, at) "
        "SELECT 'k' || g, 'big room/ü', 'message', 'groupmsg', 'n' || (g % 7), to_jsonb(g), now() "
        "FROM generate_series(1, 10000) g")
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 200} | ({"before": cursor} if cursor else {})
        status, body = await fetch(messages_url(server, "big room/ü", **query))
        assert status == 200
        pages += 1
        seen += [m["msg"] for m in body["messages"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == list(range(10000, 0, -1)) and pages == 50


async def test_database_stalled_10s_under_traffic_loses_nothing_within_the_buffer(start_server, clients, database, pg_proxy):
    dsn = dsn_for(database.name, port=pg_proxy.port)
    server = start_server(merge(FAST, with_archive(dsn, buffer_size=300, connect_timeout=0.5,
                                                   command_timeout=0.5, retry_interval=0.2)))
    await eventually(lambda: _connected(server))
    log = ServerLog(server)
    room = new_room("outage")
    alice = await clients.python(server.url)
    bob = await clients.js(server.url)
    for c, nick in ((alice, "alice"), (bob, "bob")):
        assert await c.call("entry", room, nick) == OK
    for i in range(50):
        assert await alice.call("groupmsg", room, i) == OK
    await eventually(lambda: database.fetchval("SELECT count(*) = 52 FROM archive_events"))  # + 2 entries
    pg_proxy.stall()
    loop = asyncio.get_running_loop()
    stalled_until = loop.time() + 10
    sent = 50
    while loop.time() < stalled_until:  # 10 s of traffic at ~50 messages a second: more than the buffer
        assert await alice.call("groupmsg", room, sent) == OK  # the chat goes on
        sent += 1
        await asyncio.sleep(0.02)
    figures = (await health(server))["plugins"]["archive"]
    assert figures["connected"] is False and figures["buffered"] == 300
    assert figures["dropped"] == sent - 50 - 300
    assert (await health(server))["status"] == "degraded"
    for i in range(sent):  # every live message reached bob meanwhile
        assert await bob.expect("receiveGroupMsg") == [room, i]
    pg_proxy.reset()
    pg_proxy.resume()
    await eventually(lambda: _connected(server), timeout=15)
    await eventually(lambda: health_buffer_empty(server), timeout=15)
    payloads = [r["payload"] for r in await database.fetch(
        "SELECT payload FROM archive_events WHERE room = $1 AND kind = 'message' ORDER BY id", room)]
    assert [json.loads(p) for p in payloads] == list(range(50 + 300))  # in order, none twice
    dropped_lines = [line for line in log.new().splitlines() if "buffer full" in line]
    assert len(dropped_lines) == 1, dropped_lines
    assert "were dropped because the buffer of 300 was full" in log.new()
    assert (await health(server))["status"] == "ok"


async def _warmed(*servers):
    return any([(await health(s))["plugins"]["history"]["warmed"] for s in servers])


async def health_buffer_empty(server):
    figures = (await health(server))["plugins"]["archive"]
    return figures["buffered"] == 0


async def test_restart_of_every_process_and_redis_keeps_the_archive_and_warms_history(
        start_server, redis_server, clients, database):
    config = merge(merge(merge(FAST, on_redis(redis_server)), with_archive(database.dsn)),
                   with_history(max_messages=10))
    a = start_server(config, name="a")
    b = start_server(config, name="b")
    await eventually(lambda: _connected(a))
    room = new_room("kept")
    alice = await clients.python(a.url)
    assert await alice.call("entry", room, "alice") == OK
    for i in range(25):
        assert await alice.call("groupmsg", room, f"r{i}") == OK
    assert await alice.call("broadcast", "everyone") == OK
    await archived(a, room, 25)
    await alice.close()
    a.stop()
    b.stop()
    redis_server.stop()
    redis_server.start()  # empty: no history left in Redis
    a.start()
    b.start()
    await eventually(lambda: _connected(b))
    await eventually(lambda: _warmed(a, b), timeout=15)
    bob = await clients.js(b.url)
    [chat_items] = await bob.expect("chatHistory", timeout=10)
    assert [i["msg"] for i in chat_items] == ["everyone"]
    assert await bob.call("entry", room, "bob") == OK
    _, items = await bob.expect("groupHistory")
    assert [i["msg"] for i in items] == [f"r{i}" for i in range(15, 25)]  # warmed: the last 10
    assert {i["nickName"] for i in items} == {"alice"}
    assert len(await archived(b, room, 25)) == 25  # the archive has all of them, once
    warmed = [(await health(s))["plugins"]["history"]["warmed"] for s in (a, b)]
    assert sorted(warmed)[0] == 0 and sorted(warmed)[1] > 0  # one process warmed, the other did not again


async def test_chat_works_when_the_database_is_unreachable_at_start(start_server, clients, database):
    dsn = dsn_for(database.name, port=free_port())  # nothing listens there
    server = start_server(merge(FAST, with_archive(dsn, retry_interval=0.2, buffer_size=5)))
    alice = await clients.python(server.url)
    assert await alice.call("entry", "r", "alice") == OK
    for i in range(8):
        assert await alice.call("groupmsg", "r", i) == OK
        assert await alice.expect("receiveGroupMsg") == ["r", i]
    figures = await eventually(lambda: _archive_when(server, lambda f: f["dropped"] == 4))
    assert figures["connected"] is False and figures["buffered"] == 5 and "waiting" in figures["schema_version"]
    assert (await health(server))["status"] == "degraded"
    assert server.logs().count("is not reachable") == 1  # once, not per retry
    status, body = await fetch(messages_url(server, "r"))
    assert status == 503 and "not connected" in body["error"]


async def _archive_when(server, condition):
    figures = (await health(server))["plugins"]["archive"]
    return figures if condition(figures) else None

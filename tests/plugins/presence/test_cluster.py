"""presence on three processes sharing a real Redis: one roster everywhere, each change reported once,
a SIGKILLed process's members released with one "left" each."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.plugins.presence.roster import (assert_each_change_once, diff_entries, folded, members_when,
                                           on_redis, ready)

pytestmark = pytest.mark.redis


@pytest.fixture
def three(start_server, redis_server):
    """Three `python run.py` processes on one redis-server."""
    return [start_server(on_redis(redis_server), name=f"p{n}") for n in range(3)]


async def same_everywhere(watchers, room: str, expected: list[tuple[str, int]]) -> dict:
    """members(room) lists expected on every process, and every process answers exactly the same."""
    answers = [await members_when(w, room, expected) for w in watchers]
    assert all(a == answers[0] for a in answers), answers
    return answers[0]


async def test_the_roster_is_the_same_on_every_process(three, clients):
    await ready(*three)
    # One watcher per process, in the room before anybody else: their diffs must add up.
    watchers = []
    for n, server in enumerate(three):
        watcher = await (clients.js if n % 2 else clients.python)(server.url)
        await watcher.call("entry", "hall", f"w{n}")
        watchers.append(watcher)
    base = [("w0", 1), ("w1", 1), ("w2", 1)]
    await same_everywhere(watchers, "hall", base)
    await asyncio.sleep(0.3)  # the watchers' own diffs are out: from here on a snapshot plus diffs
    snapshots = [(await w.call("members", "hall"), len(w.inbox.all("presence"))) for w in watchers]

    ann = await clients.js(three[0].url)
    ann_tab = await clients.python(three[2].url)  # the same nickname on another process
    bob = await clients.python(three[1].url)
    cat = await clients.js(three[2].url, transports=["polling"])
    for client, nick in ((ann, "ann"), (ann_tab, "ann"), (bob, "bob"), (cat, "cat")):
        assert (await client.call("entry", "hall", nick))["ok"]
    answer = await same_everywhere(watchers, "hall", base + [("ann", 2), ("bob", 1), ("cat", 1)])
    assert answer["total"] == 6 and answer["connections"] == 7

    await bob.call("leave", "hall")
    await cat.call("entry", "hall", "kat")  # a rename
    await ann.close()                         # a disconnect; ann stays through her other tab
    final = base + [("ann", 1), ("kat", 1)]
    await same_everywhere(watchers, "hall", final)

    await asyncio.sleep(0.5)  # several diff intervals: a duplicate would have arrived by now
    for watcher, (snapshot, after) in zip(watchers, snapshots):
        assert folded(watcher, "hall", snapshot, after) == sorted(final), watcher.inbox.all("presence")
        assert_each_change_once(watcher, "hall")
        _, left = diff_entries(watcher, "hall")
        # Whatever the process: the same changes, each once.
        assert sorted(e["nickName"] for e in left) == ["ann", "bob", "cat"]
        assert sorted(e["reason"] for e in left) == ["disconnected", "left", "renamed"]


async def test_a_killed_process_takes_its_members_with_it(three, clients):
    p0, p1, p2 = three
    await ready(*three)
    watchers = [await clients.python(p0.url), await clients.js(p1.url)]
    for n, watcher in enumerate(watchers):
        await watcher.call("entry", "hall", f"w{n}")
    ann_here = await clients.js(p0.url)
    await ann_here.call("entry", "hall", "ann")
    victims = [await clients.python(p2.url) for _ in range(3)]
    for n, victim in enumerate(victims):
        await victim.call("entry", "hall", f"v{n}")
    ann_there = await clients.python(p2.url)
    await ann_there.call("entry", "hall", "ann")
    await same_everywhere(watchers, "hall", [("ann", 2), ("v0", 1), ("v1", 1), ("v2", 1),
                                             ("w0", 1), ("w1", 1)])
    await asyncio.sleep(0.3)  # every entry's diff is out: from here on a snapshot plus diffs
    snapshots = [(await w.call("members", "hall"), len(w.inbox.all("presence"))) for w in watchers]
    lefts_before = [len(diff_entries(w, "hall")[1]) for w in watchers]

    killed_at = time.monotonic()
    p2.stop(signal.SIGKILL)
    answer = await same_everywhere(watchers, "hall", [("ann", 1), ("w0", 1), ("w1", 1)])
    gone_after = time.monotonic() - killed_at
    # Configured: heartbeats every 0.5 s, down after 1.5 s, presence sweeps every 0.5 s.
    assert gone_after < 2 * 1.5 + 1, gone_after
    assert answer["connections"] == 3

    assert lefts_before == [0, 0]
    for watcher in watchers:  # one "left" per member of the dead process, seen by every survivor
        deadline = time.monotonic() + 5
        while len(diff_entries(watcher, "hall")[1]) < 4:
            assert time.monotonic() < deadline, watcher.inbox.all("presence")
            await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)  # three more sweeps: nothing reported twice
    for watcher, (snapshot, after) in zip(watchers, snapshots):
        _, left = diff_entries(watcher, "hall")
        assert sorted((e["nickName"], e["reason"]) for e in left) == [
            ("ann", "lost"), ("v0", "lost"), ("v1", "lost"), ("v2", "lost")]
        assert_each_change_once(watcher, "hall")
        assert folded(watcher, "hall", snapshot, after) == [("ann", 1), ("w0", 1), ("w1", 1)]


async def test_a_roster_lost_with_redis_is_written_again(start_server, redis_server, clients):
    server = start_server(on_redis(redis_server))
    await ready(server)
    ann = await clients.python(server.url)
    bob = await clients.js(server.url)
    await ann.call("entry", "hall", "ann")
    await bob.call("entry", "hall", "bob")
    before = await members_when(ann, "hall", [("ann", 1), ("bob", 1)])

    redis_server.stop()
    answer = await ann.call("members", "hall")
    assert answer == {"ok": False, "error": "members: the member list is unavailable right now "
                                            "(the shared store cannot be reached)"}
    cat = await clients.python(server.url)  # a change while the store is away waits for it
    await cat.call("entry", "hall", "cat")
    await bob.call("leave", "hall")
    redis_server.start()  # empty: the roster is gone from the store
    after = await members_when(ann, "hall", [("ann", 1), ("cat", 1)], timeout=15)
    ann_before = next(m for m in before["members"] if m["nickName"] == "ann")
    assert after["members"][0] == ann_before  # the same entry, since and id included
    logs = server.logs()
    assert "presence: the store is unreachable" in logs and "wrote 1 roster entry again" in logs
    await asyncio.sleep(0.2)
    _, left = diff_entries(ann, "hall")
    assert [(e["nickName"], e["reason"]) for e in left] == [("bob", "left")]  # told, once


async def test_a_stopped_process_says_goodbye_at_once(start_server, redis_server, clients):
    # Liveness would take 5 s to expire here: the "left" must come from the stopping process itself.
    config = on_redis(redis_server, heartbeat_interval=1.0, heartbeat_expiry=5.0)
    stays, goes = start_server(config, name="stays"), start_server(config, name="goes")
    await ready(stays, goes)
    watcher = await clients.python(stays.url)
    await watcher.call("entry", "hall", "watcher")
    leaver = await clients.js(goes.url)
    await leaver.call("entry", "hall", "leaver")
    await members_when(watcher, "hall", [("leaver", 1), ("watcher", 1)])

    stopped_at = time.monotonic()
    goes.stop(signal.SIGTERM)
    await members_when(watcher, "hall", [("watcher", 1)])
    while not diff_entries(watcher, "hall")[1]:
        assert time.monotonic() - stopped_at < 4, watcher.inbox.all("presence")
        await asyncio.sleep(0.05)
    [left] = diff_entries(watcher, "hall")[1]
    assert left["nickName"] == "leaver" and left["reason"] == "disconnected"

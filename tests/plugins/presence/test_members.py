"""presence on one process: members(roomId) answers, diffs per change, two tabs listed once with a count."""

from __future__ import annotations

import asyncio

import pytest

from tests.plugins.presence.roster import PRESENCE, diff_entries, folded, members_when, roster
from tests.plugins.wire import refused
from tests.support.server import merge


@pytest.fixture
def server(start_server):
    return start_server(PRESENCE)


async def test_members_lists_each_nickname_once_with_its_count(server, clients):
    ann = await clients.js(server.url)
    ann_tab = await clients.js(server.url, transports=["polling"])
    bob = await clients.python(server.url)
    for client, nick in ((ann, "ann"), (bob, "bob"), (ann_tab, "ann")):
        assert (await client.call("entry", "r1", nick))["ok"]
    answer = await members_when(bob, "r1", [("ann", 2), ("bob", 1)])
    assert answer["total"] == 2 and answer["connections"] == 3
    ann_entry = next(m for m in answer["members"] if m["nickName"] == "ann")
    assert len(set(ann_entry["ids"])) == 2
    assert isinstance(ann_entry["since"], int) and ann_entry["since"] > 1_600_000_000_000
    # The same answer from every member, in the order they arrived.
    assert await ann.call("members", "r1") == answer
    assert [m["nickName"] for m in answer["members"]] == ["ann", "bob"]


async def test_members_of_a_room_one_is_not_in_is_refused(server, clients):
    ann = await clients.python(server.url)
    await ann.call("entry", "r1", "ann")
    assert await ann.call("members", "elsewhere") == refused(
        "members: you are not in room 'elsewhere'; send entry first")
    assert await ann.call("members") == refused("members expects 1 argument (roomId), got 0")


async def test_diffs_report_every_join_leave_rename_and_disconnect_once(server, clients):
    watcher = await clients.js(server.url)
    await watcher.call("entry", "r1", "watcher")
    await members_when(watcher, "r1", [("watcher", 1)])
    ann = await clients.python(server.url)
    bob = await clients.js(server.url)
    await ann.call("entry", "r1", "ann")
    await bob.call("entry", "r1", "bob")
    await members_when(watcher, "r1", [("ann", 1), ("bob", 1), ("watcher", 1)])

    await bob.call("entry", "r1", "robert")            # a new nickname in the same room
    await ann.call("leave", "r1")
    await ann.call("entry", "r1", "ann")               # and back
    await members_when(watcher, "r1", [("ann", 1), ("robert", 1), ("watcher", 1)])
    await ann.close()                                  # a disconnect
    await members_when(watcher, "r1", [("robert", 1), ("watcher", 1)])
    await asyncio.sleep(0.3)                           # two diff intervals: anything late would be here

    joined, left = diff_entries(watcher, "r1")
    assert [e["nickName"] for e in joined] == ["watcher", "ann", "bob", "robert", "ann"]
    assert [(e["nickName"], e["reason"]) for e in left] == [
        ("bob", "renamed"), ("ann", "left"), ("ann", "disconnected")]
    assert len({e["id"] for e in joined}) == 5  # one id per connection per stay in the room
    assert folded(watcher, "r1") == [("robert", 1), ("watcher", 1)]
    # Other rooms hear nothing of it.
    assert all(room == "r1" for room, _ in watcher.inbox.all("presence"))


async def test_only_members_of_the_room_get_its_diffs(server, clients):
    inside = await clients.python(server.url)
    outside = await clients.python(server.url)
    await inside.call("entry", "r1", "in")
    await outside.call("entry", "r2", "out")
    newcomer = await clients.js(server.url)
    await newcomer.call("entry", "r1", "new")
    await members_when(inside, "r1", [("in", 1), ("new", 1)])
    await inside.expect("presence")
    await asyncio.sleep(0.2)
    assert [room for room, _ in outside.inbox.all("presence")] == ["r2"]  # its own entry only


async def test_max_members_listed_bounds_the_list_not_the_counts(start_server, clients):
    server = start_server(merge(PRESENCE, {"plugins": {"presence": {"max_members_listed": 3}}}))
    people = [await clients.python(server.url) for _ in range(6)]
    for n, person in enumerate(people):
        await person.call("entry", "big", f"user{n}")
    deadline = asyncio.get_running_loop().time() + 5
    while (answer := await people[0].call("members", "big"))["total"] < 6:
        assert asyncio.get_running_loop().time() < deadline, answer
        await asyncio.sleep(0.05)
    assert answer["total"] == 6 and answer["connections"] == 6
    assert roster(answer) == [("user0", 1), ("user1", 1), ("user2", 1)]  # the first three to arrive


async def test_healthz_shows_the_rosters_figures(server, clients):
    import json
    import urllib.request

    alice = await clients.python(server.url)
    await alice.call("entry", "hall", "alice")
    await members_when(alice, "hall", [("alice", 1)])
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as resp:
        figures = json.load(resp)["plugins"]["presence"]
    assert figures == {"pending_changes": 0, "dropped_changes": 0, "local_connections": 1}

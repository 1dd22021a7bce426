"""typing(roomId, true|false): the other members hear it, capped per connection, expiring by itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.plugins.wire import OK, refused
from tests.support.server import merge

# Shorter than the shipped 2 s / 5 s so that the tests wait little (test_throttle.py runs the defaults).
INTERVAL, EXPIRY = 0.5, 1.5
TYPING = {"plugins": {"typing": {"enabled": True, "min_interval": INTERVAL, "expiry": EXPIRY}}}


async def typing(client, room: str, value: bool) -> dict:
    """Send typing, retrying the moment right after entry when the entry's event is still on its way."""
    for _ in range(100):
        answer = await client.call("typing", room, value)
        if "still being processed" not in str(answer.get("error")):
            return answer
        await asyncio.sleep(0.01)
    raise AssertionError(f"typing never accepted: {answer!r}")


@pytest.fixture
def server(start_server):
    return start_server(TYPING)


async def in_room(clients, url, room, *nicks, kinds=("python", "js")):
    out = []
    for n, nick in enumerate(nicks):
        client = await (clients.python if kinds[n % len(kinds)] == "python" else clients.js)(url)
        assert (await client.call("entry", room, nick))["ok"]
        out.append(client)
    return out


async def test_the_others_hear_it_the_sender_and_other_rooms_do_not(server, clients):
    ann, bob = await in_room(clients, server.url, "r1", "ann", "bob")
    [cat] = await in_room(clients, server.url, "r2", "cat")
    assert await typing(ann, "r1", True) == OK
    assert await bob.expect("typing") == ["r1", "ann", True]
    assert await typing(ann, "r1", False) == OK
    assert await bob.expect("typing", timeout=INTERVAL + 1) == ["r1", "ann", False]
    await ann.assert_none("typing", within=0.2)
    await cat.assert_none("typing", within=0)


async def test_a_true_expires_by_itself(server, clients):
    ann, bob = await in_room(clients, server.url, "r1", "ann", "bob")
    await typing(ann, "r1", True)
    assert await bob.expect("typing") == ["r1", "ann", True]
    heard = time.monotonic()
    assert await bob.expect("typing", timeout=EXPIRY + 2) == ["r1", "ann", False]
    waited = time.monotonic() - heard
    assert EXPIRY - 0.2 < waited < EXPIRY + 1, waited


async def test_the_push_rate_is_capped_whatever_the_client_sends(server, clients):
    ann, bob = await in_room(clients, server.url, "r1", "ann", "bob", kinds=("js", "python"))
    arrivals = []
    bob.sio.on("typing", lambda *args: arrivals.append((time.monotonic(), args)))
    await typing(ann, "r1", True)
    started = time.monotonic()
    for n in range(40):  # 2 s of true/false flips, 20 a second (the rate limiter's own pace)
        await ann.emit("typing", "r1", n % 2 == 1)
        await asyncio.sleep(0.05)
    spent = time.monotonic() - started
    await asyncio.sleep(INTERVAL + 0.3)  # the last state's slot
    times = [t for t, _ in arrivals]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(arrivals) <= spent / INTERVAL + 2, arrivals
    assert all(gap > INTERVAL - 0.1 for gap in gaps), gaps  # arrival jitter aside, one per interval
    assert arrivals[-1][1] == ("r1", "ann", True)  # the last thing ann said wins


async def test_leaving_or_disconnecting_ends_typing_at_once(server, clients):
    ann, bob, cat = await in_room(clients, server.url, "r1", "ann", "bob", "cat")
    await typing(ann, "r1", True)
    await typing(cat, "r1", True)
    assert sorted([await bob.expect("typing"), await bob.expect("typing")]) == [
        ["r1", "ann", True], ["r1", "cat", True]]
    started = time.monotonic()
    await ann.call("leave", "r1")
    await cat.close()
    assert sorted([await bob.expect("typing"), await bob.expect("typing")]) == [
        ["r1", "ann", False], ["r1", "cat", False]]
    assert time.monotonic() - started < EXPIRY - 0.2  # not by expiry


async def test_only_members_may_type_and_bad_values_are_refused(server, clients):
    [ann] = await in_room(clients, server.url, "r1", "ann")
    assert await ann.call("typing", "r2", True) == refused("typing: you are not in room 'r2'; send entry first")
    assert await ann.call("typing", "r1", "yes") == refused("typing: typing must be true or false")
    assert await ann.call("typing", "r1") == refused("typing expects 2 arguments (roomId, typing), got 1")


@pytest.mark.redis
async def test_typing_crosses_processes(start_server, redis_server, clients):
    config = merge(TYPING, {"backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    a, b = start_server(config, name="a"), start_server(config, name="b")
    [ann] = await in_room(clients, a.url, "r1", "ann", kinds=("js",))
    [bob] = await in_room(clients, b.url, "r1", "bob")
    await typing(ann, "r1", True)
    assert await bob.expect("typing") == ["r1", "ann", True]
    assert await bob.expect("typing", timeout=EXPIRY + 2) == ["r1", "ann", False]

"""ctx.publish(cluster=True), ctx.store and ctx.cluster on real processes sharing a real Redis."""

import asyncio
import signal
from pathlib import Path

import pytest

from tests.core.backplane.test_redis_cluster import health, ready, wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]

PLUGINS = str(Path(__file__).resolve().parent / "fixture_plugins")
OK = {"ok": True}


def probe_on(redis=None, **options) -> dict:
    backplane = {"kind": "redis", "redis": {"url": redis.url, **options}} if redis else {"kind": "memory"}
    return {"backplane": backplane, "plugin_dirs": [PLUGINS], "plugins": {"cluster_probe": {}}}


async def seen(client) -> dict:
    return await client.call("probe_seen")


async def test_cluster_events_arrive_once_per_process_in_order(start_server, redis_server, clients):
    servers = [start_server(probe_on(redis_server), name=f"p{i}") for i in range(3)]
    await ready(*servers)
    people = [await clients.python(s.url) for s in servers]
    ids = [(await seen(p))["process"] for p in people]
    assert len(set(ids)) == 3
    for person in people:
        assert await person.call("probe_publish", 40) == OK
    for person in people:
        await wait_for_events(person, 120)
        await asyncio.sleep(0.3)
        events = (await seen(person))["events"]
        assert len(events) == 120  # each event once, the publisher's own included
        for origin in ids:
            assert [n for o, n, _ in events if o == origin] == list(range(40))  # in order per publisher
        assert {plugin for _, _, plugin in events} == {"cluster_probe"}


async def wait_for_events(person, count: int) -> None:
    for _ in range(200):
        if len((await seen(person))["events"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} events")


async def test_memory_backplane_delivers_cluster_events_to_its_own_process(start_server, clients):
    srv = start_server(probe_on())
    alice = await clients.python(srv.url)
    assert await alice.call("probe_publish", 3) == OK
    await wait_for_events(alice, 3)
    state = await seen(alice)
    assert [n for _, n, _ in state["events"]] == [0, 1, 2]
    assert state["processes"] == [state["process"]]
    answers = (await alice.call("probe_ask", 1.0))["answers"]
    assert answers == [{"process": state["process"], "echo": {"q": 1}}]


async def test_store_is_shared_and_ttls_expire_across_processes(start_server, redis_server, clients):
    a = start_server(probe_on(redis_server), name="a")
    b = start_server(probe_on(redis_server), name="b")
    await ready(a, b)
    ann, ben = await clients.python(a.url), await clients.js(b.url)
    assert await ann.call("probe_set", "k", {"x": [1, "y"]}, None) == OK
    assert await ben.call("probe_get", "k") == {"ok": True, "value": {"x": [1, "y"]}}
    assert await ann.call("probe_set", "brief", "soon gone", 0.3) == OK
    assert await ben.call("probe_get", "brief") == {"ok": True, "value": "soon gone"}
    for n in range(5):
        await (ann if n % 2 else ben).call("probe_push", "log", n)
    assert await ann.call("probe_list", "log") == {"ok": True, "items": [2, 3, 4]}
    await asyncio.sleep(0.5)
    assert await ben.call("probe_get", "brief") == {"ok": True, "value": None}


async def test_room_sockets_across_two_processes(start_server, redis_server, clients):
    a = start_server(probe_on(redis_server), name="a")
    b = start_server(probe_on(redis_server), name="b")
    await ready(a, b)
    ann, ben, cat = await clients.python(a.url), await clients.js(b.url), await clients.python(b.url)
    pa, pb = (await seen(ann))["process"], (await seen(ben))["process"]
    assert await ann.call("probe_join", "lobby", "ann") == OK
    assert await ben.call("probe_join", "lobby", "ben") == OK
    assert await cat.call("probe_join", "elsewhere", "cat") == OK
    await wait_for(lambda: len(health(a)[1]["backplane"]["heartbeat"]["processes"]) == 2)
    for asker in (ann, cat):
        answer = await asker.call("probe_room", "lobby")
        got = sorted((s["process"], s["session"]["cluster_probe"]["nick"]) for s in answer["sockets"])
        assert got == sorted([(pa, "ann"), (pb, "ben")])
        assert answer["count"] == 2
    sids = {s["sid"] for s in (await ann.call("probe_room", "lobby"))["sockets"]}
    assert len(sids) == 2 and ann.sio.get_sid() in sids


async def test_request_with_a_killed_process_returns_the_live_answers_in_time(start_server, redis_server, clients):
    servers = [start_server(probe_on(redis_server, heartbeat_expiry=3.0), name=f"k{i}") for i in range(3)]
    await ready(*servers)
    people = [await clients.python(s.url) for s in servers[:2]]
    await clients.python(servers[2].url)
    await wait_for(lambda: len(health(servers[0])[1]["backplane"]["heartbeat"]["processes"]) == 3)
    answers = (await people[0].call("probe_ask", 2.0))["answers"]
    assert len(answers) == 3
    victim = health(servers[2])[1]["backplane"]["heartbeat"]["process"]
    servers[2].proc.send_signal(signal.SIGKILL)
    servers[2].proc.wait()
    reply = await people[0].call("probe_ask", 1.0)
    assert sorted(a["process"] for a in reply["answers"]) == sorted(
        a["process"] for a in answers if a["process"] != victim)
    assert reply["elapsed"] < 1.0 + 0.5  # the dead process costs the timeout, never a hang
    # Within the expiry, the others know: ProcessDown once on each survivor, and processes() shrinks.
    for person in people:
        await wait_for_down(person, victim)
    await asyncio.sleep(1.5)  # a second announcement would have arrived by now
    for person in people:
        state = await seen(person)
        assert state["down"] == [victim]
        assert victim not in state["processes"]
    fast = await people[1].call("probe_ask", 1.0)
    assert len(fast["answers"]) == 2 and fast["elapsed"] < 1.0  # the living answered: no waiting
    assert sum(health(s)[1]["backplane"]["heartbeat"]["declared_down"] for s in servers[:2]) == 1


async def wait_for_down(person, victim: str, timeout: float = 8.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while victim not in (await seen(person))["down"]:
        if loop.time() > deadline:
            raise AssertionError("no ProcessDown in time")
        await asyncio.sleep(0.1)

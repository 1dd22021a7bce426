"""Several server processes on one Redis form one chat: every contract event crosses processes, once."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


def on_redis(redis, **options):
    return {"backplane": {"kind": "redis", "redis": {"url": redis.url, **options}}}


def health(server):
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


async def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture
def cluster(start_server, redis_server):
    """Two processes sharing redis_server."""
    a = start_server(on_redis(redis_server), name="a")
    b = start_server(on_redis(redis_server), name="b")
    return a, b


async def ready(*servers):
    await wait_for(lambda: all(health(s)[0] == 200 for s in servers))


async def test_global_events_cross_processes(cluster, clients):
    a, b = cluster
    await ready(a, b)
    alice = await clients.python(a.url)
    bob = await clients.js(b.url)
    await alice.call("broadcast", {"nickName": "alice", "msg": "hi"})
    await bob.call("test1", "x", [1, 2])
    await bob.call("test2", {"k": None})
    for client in (alice, bob):
        assert await client.expect("receiveAll") == [{"nickName": "alice", "msg": "hi"}]
        assert await client.expect("receive1") == ["x", [1, 2]]
        assert await client.expect("receive2") == [{"k": None}]


async def test_rooms_cross_processes_and_stay_isolated(cluster, clients):
    a, b = cluster
    await ready(a, b)
    ann = await clients.python(a.url)
    ben = await clients.js(b.url, transports=["polling"])
    cat = await clients.python(b.url)
    await ann.call("entry", "room1", "ann")
    await ben.call("entry", "room1", "ben")
    await cat.call("entry", "room2", "cat")
    assert await ann.expect("entryok") == ["You entered room room1 as ann"]
    assert await ann.expect("entryok") == ["ben entered the room"]
    await ann.call("groupmsg", "room1", "to room1")
    await cat.call("groupmsg", "room2", "to room2")
    assert await ann.expect("receiveGroupMsg") == ["room1", "to room1"]
    assert await ben.expect("receiveGroupMsg") == ["room1", "to room1"]
    assert await cat.expect("receiveGroupMsg") == ["room2", "to room2"]
    await ann.assert_none("receiveGroupMsg", within=0.3)
    await ben.assert_none("receiveGroupMsg", within=0)
    await cat.assert_none("receiveGroupMsg", within=0)
    assert cat.inbox.all("entryok") == [["You entered room room2 as cat"]]


async def test_no_duplicates_on_any_process(start_server, redis_server, clients):
    servers = [start_server(on_redis(redis_server), name=f"n{i}") for i in range(3)]
    await ready(*servers)
    people = [await clients.python(s.url) for s in servers]
    for i, person in enumerate(people):
        for n in range(20):
            await person.emit("broadcast", f"{i}-{n}")
    expected = sorted(f"{i}-{n}" for i in range(3) for n in range(20))
    for person in people:
        await wait_for(lambda: len(person.inbox.all("receiveAll")) >= 60)
        await person.assert_none("nothing", within=0.3)
        got = [args[0] for args in person.inbox.all("receiveAll")]
        assert sorted(got) == expected  # each exactly once
        for i in range(3):  # and each sender's messages in the order sent
            mine = [m for m in got if m.startswith(f"{i}-")]
            assert mine == [f"{i}-{n}" for n in range(20)]


async def test_outage_loses_nothing_and_keeps_order(start_server, redis_server, clients):
    a = start_server(on_redis(redis_server), name="a")
    b = start_server(on_redis(redis_server), name="b")
    await ready(a, b)
    sender = await clients.python(a.url)
    local = await clients.python(a.url)
    remote = await clients.js(b.url)
    loop = asyncio.get_running_loop()
    sent, killed_at, restarted_at = [], None, None

    async def send_every_100ms(count):
        for n in range(count):
            await sender.emit("broadcast", n)
            sent.append(n)
            await asyncio.sleep(0.1)

    sending = asyncio.create_task(send_every_100ms(90))
    await asyncio.sleep(1.5)
    redis_server.stop()
    killed_at = loop.time()
    await asyncio.sleep(2.5)
    status, body = health(a)
    assert status == 503 and body["backplane"]["connected"] is False
    assert body["backplane"]["buffered"] > 0
    local_during = len(local.inbox.all("receiveAll"))
    await asyncio.sleep(2.5)
    redis_server.start()
    restarted_at = loop.time()
    remote_before = len(remote.inbox.all("receiveAll"))
    await wait_for(lambda: len(remote.inbox.all("receiveAll")) > remote_before)
    resumed_after = loop.time() - restarted_at
    await sending
    await wait_for(lambda: len(remote.inbox.all("receiveAll")) >= len(sent), timeout=15)
    got = [args[0] for args in remote.inbox.all("receiveAll")]
    print(f"\noutage of {restarted_at - killed_at:.1f}s: sent {len(sent)}, remote received {len(got)}, "
          f"cross-process delivery resumed {resumed_after:.2f}s after Redis restarted")
    assert got == sent  # nothing lost, nothing doubled, order kept
    assert [args[0] for args in local.inbox.all("receiveAll")] == sent
    assert local_during > 15  # delivery inside the sender's process went on during the outage
    assert health(a)[0] == 200 and health(b)[0] == 200


async def test_redis_down_at_start_then_appears(start_server, redis_server, clients):
    redis_server.stop()
    a = start_server(on_redis(redis_server), name="a")
    b = start_server(on_redis(redis_server), name="b")
    assert health(a)[0] == 503
    assert "is not reachable" in a.logs()
    alice = await clients.python(a.url)
    await alice.call("broadcast", "local only, for now")
    assert await alice.expect("receiveAll") == ["local only, for now"]
    bob = await clients.python(b.url)
    redis_server.start()
    await ready(a, b)
    assert await bob.expect("receiveAll") == ["local only, for now"]  # buffered, then delivered
    await bob.call("broadcast", "now shared")
    assert await alice.expect("receiveAll") == ["now shared"]
    assert a.logs().count("is not reachable") == 1  # one clear line, no retry storm


async def test_buffer_overflow_drops_oldest_and_says_how_many(start_server, redis_server, clients):
    a = start_server(on_redis(redis_server, buffer_size=5), name="a")
    b = start_server(on_redis(redis_server), name="b")
    await ready(a, b)
    sender = await clients.python(a.url)
    remote = await clients.python(b.url)
    redis_server.stop()
    await wait_for(lambda: health(a)[0] == 503)
    for n in range(12):
        await sender.call("broadcast", n)
    assert health(a)[1]["backplane"]["buffered"] == 5
    assert health(a)[1]["backplane"]["dropped"] == 7
    redis_server.start()
    await wait_for(lambda: len(remote.inbox.all("receiveAll")) >= 5)
    await remote.assert_none("nothing", within=0.3)
    assert [args[0] for args in remote.inbox.all("receiveAll")] == [7, 8, 9, 10, 11]
    await wait_for(lambda: "dropped 7 message(s)" in a.logs())


async def test_healthz_reports_each_state(start_server, redis_server, clients):
    a = start_server(on_redis(redis_server), name="a")
    await ready(a)
    await clients.python(a.url)
    status, body = health(a)
    assert status == 200
    assert body["status"] == "ok"
    backplane = body["backplane"]
    assert {k: backplane[k] for k in ("kind", "connected", "buffered", "dropped", "missed")} == \
        {"kind": "redis", "connected": True, "buffered": 0, "dropped": 0, "missed": 0}
    stream = backplane["stream"]
    assert {k: stream[k] for k in ("refused", "gaps", "resets", "trimmed_gaps", "ack")} == \
        {"refused": 0, "gaps": 0, "resets": 0, "trimmed_gaps": 0, "ack": "fast"}
    await wait_for(lambda: health(a)[1]["backplane"]["heartbeat"]["beats"] >= 1)
    beat = health(a)[1]["backplane"]["heartbeat"]
    assert beat["ok"] is True and beat["processes"] == [beat["process"]] and beat["expiry"] == 5.0
    assert body["clients"] == 1
    redis_server.stop()
    await wait_for(lambda: health(a)[0] == 503)
    assert health(a)[1]["status"] == "degraded"
    redis_server.start()
    await wait_for(lambda: health(a)[0] == 200)


async def test_memory_backplane_health_is_ok(server):
    status, body = health(server)
    assert status == 200
    assert body["backplane"]["kind"] == "memory" and body["backplane"]["connected"] is True


async def test_two_workers_share_one_chat_over_websocket(start_server, redis_server, clients):
    srv = start_server({**on_redis(redis_server), "server": {"workers": 2}}, name="w")
    await wait_for(lambda: health(srv)[0] == 200)
    pids = set()

    def both_workers_answer():  # each new connection lands on either worker; both must be up
        pids.add(health(srv)[1]["pid"])
        return len(pids) == 2

    await wait_for(both_workers_answer, timeout=20)
    people = [await clients.js(srv.url, transports=["websocket"]) for _ in range(6)]
    await people[0].call("broadcast", "to all workers")
    for person in people:
        assert await person.expect("receiveAll") == ["to all workers"]
    with urllib.request.urlopen(srv.url + "/chat") as resp:
        assert '"transports": ["websocket"]' in resp.read().decode()  # the page's chat-config

"""Connection-state recovery across processes on a real Redis, with the official JS client.

Three `python run.py` processes share one redis-server; ann reaches them through a TCP proxy that
the test points at one process or another (or at nobody, for the gap), and cat posts from a third.
"""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]

RECOVERING = {"auth": {"recover": True}, "reconnection": True, "reconnectionDelay": 100,
              "reconnectionDelayMax": 200, "randomizationFactor": 0}
MESSAGES = 100
GAP = 2.0  # seconds ann is away (the 10 s, shortened: the window is what matters)


def on_redis(redis, window=120):
    return {"backplane": {"kind": "redis", "redis": {"url": redis.url}},
            "server": {"connection_state_recovery": {"max_disconnection_duration": window},
                       "rate_limit": {"messages_per_second": 1000, "burst": 1000}}}


def health(server):
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)
    except OSError:
        return None, {}


async def wait_for(predicate, timeout=15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def connects(client):
    return [args[0] for args in client.inbox.all("connect")]


@pytest.fixture
async def cluster(start_server, redis_server):
    """Processes a, b and c on one Redis, and a proxy in front of a."""
    def start(window=120):
        servers = [start_server(on_redis(redis_server, window), name=n) for n in "abc"]
        return servers
    yield start


async def setup_room(clients, proxy, sender_url):
    cat = await clients.python(sender_url)
    await cat.call("entry", "room1", "cat")
    assert await cat.expect("entryok") == ["You entered room room1 as cat"]
    ann = await clients.js(proxy.url, extra_opts=RECOVERING)
    await ann.call("entry", "room1", "ann")
    assert (await ann.expect("entryok"))[0] == "You entered room room1 as ann"
    assert await cat.expect("entryok") == ["ann entered the room"]  # the one and only time
    return ann, cat


async def gap(ann, cat, proxy, messages=MESSAGES, seconds=GAP, during=None):
    """Cut ann off; cat posts `messages` during the gap; `during()` runs in it too."""
    proxy.target = None
    started = asyncio.get_running_loop().time()
    await ann.drop()
    await ann.expect("disconnect")
    assert await cat.expect("entryok") == ["ann left the room (connection lost, may be back soon)"]
    if during is not None:
        await during()
    for i in range(messages):
        assert await cat.call("groupmsg", "room1", f"m{i}") == {"ok": True}
    for i in range(messages):  # the sender is a member too
        assert await cat.expect("receiveGroupMsg") == ["room1", f"m{i}"]
    await asyncio.sleep(max(0.0, seconds - (asyncio.get_running_loop().time() - started)))


async def assert_recovered(ann, cat, first_id, messages=MESSAGES):
    await wait_for(lambda: len(connects(ann)) == 2)
    again = connects(ann)[1]
    assert again["recovered"] is True and again["id"] == first_id
    got = [await ann.expect("receiveGroupMsg") for _ in range(messages)]
    assert [args[:2] for args in got] == [["room1", f"m{i}"] for i in range(messages)]  # 100/100, in order
    assert (await ann.expect("recovered"))[0]["missed"] >= messages  # other plugins may add room events
    await ann.assert_none("receiveGroupMsg", within=0.5)  # 0 duplicates
    # The nickname came back with the session: cat hears "ann is back", never "entered" again.
    assert await cat.expect("entryok") == ["ann is back"]
    # Still a member: ann posts without entering, and live traffic follows the replay.
    assert await ann.call("groupmsg", "room1", "live") == {"ok": True}
    assert await cat.expect("receiveGroupMsg") == ["room1", "live"]
    assert (await ann.expect("receiveGroupMsg"))[:2] == ["room1", "live"]
    assert [args[0] for args in cat.inbox.all("entryok")].count("ann entered the room") == 1


async def test_recovers_on_another_process(cluster, clients):
    a, b, c = cluster()
    await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))
    proxy = await TcpProxy(a.port).start()
    try:
        ann, cat = await setup_room(clients, proxy, c.url)
        first = connects(ann)[0]["id"]
        await gap(ann, cat, proxy)
        proxy.target = b.port  # the reconnect lands on another process
        await assert_recovered(ann, cat, first)
        assert health(b)[1]["recovery"]["recovered"] == 1
    finally:
        await proxy.stop()


async def test_recovers_on_the_same_process(cluster, clients):
    a, b, c = cluster()
    await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))
    proxy = await TcpProxy(a.port).start()
    try:
        ann, cat = await setup_room(clients, proxy, c.url)
        first = connects(ann)[0]["id"]
        await gap(ann, cat, proxy)
        proxy.target = a.port
        await assert_recovered(ann, cat, first)
    finally:
        await proxy.stop()


async def test_a_gap_longer_than_the_window_is_a_new_connection(cluster, clients):
    a, b, c = cluster(window=1)
    await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))
    proxy = await TcpProxy(a.port).start()
    try:
        ann, cat = await setup_room(clients, proxy, c.url)
        first = connects(ann)[0]["id"]
        await gap(ann, cat, proxy, messages=10, seconds=1.5)
        proxy.target = b.port
        await wait_for(lambda: len(connects(ann)) == 2)
        again = connects(ann)[1]
        assert again["recovered"] is False and again["id"] != first
        await ann.assert_none("receiveGroupMsg", within=0.5)  # nothing replayed
        assert not ann.inbox.all("recovered")
        assert (await ann.call("groupmsg", "room1", "x"))["ok"] is False  # a stranger again
    finally:
        await proxy.stop()


async def test_redis_restarted_empty_during_the_gap_is_a_new_connection(cluster, clients, redis_server):
    a, b, c = cluster()
    await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))
    proxy = await TcpProxy(a.port).start()

    async def restart_redis():
        redis_server.stop()
        redis_server.start()
        await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))

    try:
        ann, cat = await setup_room(clients, proxy, c.url)
        first = connects(ann)[0]["id"]
        await gap(ann, cat, proxy, messages=10, during=restart_redis)
        proxy.target = b.port
        await wait_for(lambda: len(connects(ann)) == 2)
        again = connects(ann)[1]
        assert again["recovered"] is False and again["id"] != first
        await ann.assert_none("receiveGroupMsg", within=0.5)  # nothing wrong (or partial) delivered
    finally:
        await proxy.stop()


async def test_recovers_on_the_same_process_during_a_redis_outage(cluster, clients, redis_server):
    a, b, c = cluster()
    await wait_for(lambda: all(health(s)[0] == 200 for s in (a, b, c)))
    proxy = await TcpProxy(a.port).start()
    try:
        # The sender is on a: without Redis only a's own clients can hear it.
        ann, cat = await setup_room(clients, proxy, a.url)
        first = connects(ann)[0]["id"]
        redis_server.stop()
        await wait_for(lambda: health(a)[0] == 503)
        await gap(ann, cat, proxy, messages=20)
        proxy.target = a.port
        await assert_recovered(ann, cat, first, messages=20)
    finally:
        await proxy.stop()

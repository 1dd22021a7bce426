"""Issue 12's backplane faults, injected for real (redis-server, a TCP proxy, SIGKILL): each detected or healed."""

import asyncio
import json
import re
import signal
import time

import pytest
import redis as redis_sync

from tests.core.backplane.test_redis_cluster import health, ready, wait_for
from tests.support.server import BASE_CONFIG, merge, run_once
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


def via(url: str, **options) -> dict:
    """A process on the Redis at url; senders here send faster than a person would."""
    return {"backplane": {"kind": "redis", "redis": {"url": url, **options}},
            "server": {"rate_limit": {"messages_per_second": 5000.0, "burst": 5000}}}


@pytest.fixture
def proxies(redis_server):
    """proxies() -> a started TcpProxy to redis_server; all closed after the test."""
    made = []

    def make() -> TcpProxy:
        proxy = TcpProxy(redis_server.port).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def received(client, event="receiveAll") -> list:
    return [args[0] for args in client.inbox.all(event)]


def stream_of(h: dict) -> dict:
    return h["backplane"]["stream"]


async def test_stream_recreated_with_lower_ids_is_detected_and_nothing_after_the_reset_is_lost(
        start_server, redis_server, clients):
    a = start_server(via(redis_server.url), name="a")
    b = start_server(via(redis_server.url), name="b")
    await ready(a, b)
    sender, remote = await clients.python(a.url), await clients.js(b.url)
    await sender.call("broadcast", "before")
    assert await remote.expect("receiveAll") == ["before"]
    direct = redis_sync.Redis(port=redis_server.port)
    future = int(time.time() * 1000) + 120_000  # as a Redis whose clock ran ahead would have written
    direct.xadd("chat:stream", {"m": json.dumps({"method": "noop", "host_id": "elsewhere", "seq": 1})},
                id=f"{future}-0")
    await wait_for(lambda: stream_of(health(b)[1])["position"] == f"{future}-0")
    direct.flushall()  # the stream is recreated below: its ids are now lower than everybody's position
    for n in range(30):
        await sender.call("broadcast", n)
    await wait_for(lambda: len(received(remote)) >= 31)
    await remote.assert_none("nothing", within=0.5)
    assert received(remote) == ["before", *range(30)]
    for server in (a, b):
        stream = stream_of(health(server)[1])
        assert stream["resets"] == 1 and stream["missed"] == 0
        assert server.logs().count("was reset (") == 1
    direct.close()


async def test_a_stalled_process_counts_exactly_what_it_missed_with_the_gap_size(
        start_server, redis_server, proxies, clients):
    cut = proxies()
    options = dict(stream_maxlen=100, buffer_size=100, heartbeat_interval=0.5, heartbeat_expiry=1.5)
    a = start_server(via(redis_server.url, **options), name="a")
    b = start_server(via(cut.url, **options), name="b")
    await ready(a, b)
    sender, remote = await clients.python(a.url), await clients.python(b.url)
    await sender.call("broadcast", "warm-up")
    assert await remote.expect("receiveAll") == ["warm-up"]
    cut.stall()
    await wait_for(lambda: health(b)[0] == 503, timeout=5)
    await wait_for(lambda: health(a)[1]["backplane"]["heartbeat"]["declared_down"] == 1, timeout=8)
    for n in range(401):  # in steps the buffer of 100 holds: a drops nothing
        if n % 50 == 49 or n == 400:
            await sender.call("broadcast", n)  # acked: the step is queued
            await wait_for(lambda: health(a)[1]["backplane"]["buffered"] == 0)
        else:
            await sender.emit("broadcast", n)
    assert health(a)[1]["backplane"]["dropped"] == 0
    await asyncio.sleep(1.5)  # a trim by the cap runs once a second
    cut.resume()
    await wait_for(lambda: 400 in received(remote), timeout=10)
    await remote.assert_none("nothing", within=0.5)
    got = [m for m in received(remote) if m != "warm-up"]
    assert got == sorted(got) and got[-1] == 400  # what arrived, in order, up to the last
    lost = 401 - len(got)
    assert lost > 100  # more than the stream's cap was missed...
    stream = stream_of(health(b)[1])
    assert stream["missed"] == lost and stream["gaps"] == 1  # ...and exactly that is counted, once
    gap = stream["recent_gaps"][0]
    assert gap["size"] == lost and gap["first_seq"] + lost - 1 == gap["last_seq"]
    assert re.search(rf"missed {lost} message\(s\) from process", b.logs())
    # the stream-level check counts every entry trimmed unread: those messages, and the
    # ProcessDown about b itself (appended before them)
    assert stream["trimmed_gaps"] == 1 and stream["trimmed_unread"] == lost + 1
    beat = health(b)[1]["backplane"]["heartbeat"]
    assert beat["rejoined"] == 1 and "the cluster declared this process down" in b.logs()


async def test_buffer_larger_than_the_stream_is_refused_at_start(tmp_path):
    config = merge(BASE_CONFIG, via("redis://127.0.0.1:1/0", buffer_size=1000, stream_maxlen=100))
    result = run_once(config, tmp_path)
    assert result.returncode == 2
    assert "buffer_size (1000) is larger than stream_maxlen (100)" in result.stdout + result.stderr


async def test_flushing_a_full_buffer_loses_nothing_at_healthy_processes(
        start_server, redis_server, proxies, clients):
    cut = proxies()
    options = dict(stream_maxlen=200, buffer_size=200)
    a = start_server(via(cut.url, **options), name="a")
    b = start_server(via(redis_server.url, **options), name="b")
    c = start_server(via(redis_server.url, **options), name="c")
    await ready(a, b, c)
    sender, other = await clients.python(a.url), await clients.python(c.url)
    watcher = await clients.js(b.url)
    await sender.call("broadcast", "a-first")  # the others now know a's sequence numbers
    await wait_for(lambda: "a-first" in received(watcher))
    cut.cut()
    await wait_for(lambda: health(a)[0] == 503, timeout=5)
    for n in range(200):
        await sender.emit("broadcast", f"a{n}")
    for n in range(100):
        await other.emit("broadcast", f"c{n}")
    await sender.call("broadcast", "a-last")  # drops the oldest buffered one: a0
    await other.call("broadcast", "c-last")
    assert health(a)[1]["backplane"]["dropped"] == 1
    cut.restore()
    await wait_for(lambda: "a-last" in received(watcher), timeout=10)
    await watcher.assert_none("nothing", within=0.5)
    got = received(watcher)
    assert [m for m in got if m.startswith("a")] == ["a-first"] + [f"a{n}" for n in range(1, 200)] + ["a-last"]
    assert [m for m in got if m.startswith("c")] == [f"c{n}" for n in range(100)] + ["c-last"]
    # the one a dropped shows at the receivers as one missed message, nothing else
    assert stream_of(health(b)[1])["missed"] == 1 and stream_of(health(c)[1])["missed"] == 1


async def test_relayed_acks_mean_in_redis_queued_while_away_refused_when_full(
        start_server, redis_server, proxies, clients):
    cut = proxies()
    options = dict(ack="relayed", buffer_size=5)
    a = start_server(via(cut.url, **options), name="a")
    b = start_server(via(redis_server.url, **options), name="b")
    await ready(a, b)
    await wait_for(lambda: len(health(a)[1]["backplane"]["heartbeat"]["processes"]) == 2)
    sender, remote = await clients.python(a.url), await clients.python(b.url)
    direct = redis_sync.Redis(port=redis_server.port)
    for n in range(3):
        assert await sender.call("broadcast", f"up{n}") == {"ok": True}
        entries = direct.xrevrange("chat:stream", count=1)
        assert json.loads(entries[0][1][b"m"])["data"] == [f"up{n}"]  # in Redis when acked
    cut.cut()
    await wait_for(lambda: health(a)[0] == 503, timeout=5)
    acks = [await sender.call("broadcast", f"away{n}") for n in range(8)]
    assert acks[:5] == [{"ok": True, "queued": True}] * 5
    assert all(ack["ok"] is False and "cannot relay" in ack["error"] for ack in acks[5:])
    stream = stream_of(health(a)[1])
    assert stream["refused"] == 3 and stream["dropped"] == 0 and stream["buffered"] == 5
    cut.restore()
    await wait_for(lambda: len(received(remote)) >= 8, timeout=10)
    await remote.assert_none("nothing", within=0.5)
    assert received(remote) == [f"up{n}" for n in range(3)] + [f"away{n}" for n in range(5)]
    assert stream_of(health(b)[1])["missed"] == 0  # refused messages took no sequence number
    direct.close()


async def test_relayed_acks_survive_a_sigkill_right_after(start_server, redis_server, clients):
    a = start_server(via(redis_server.url, ack="relayed"), name="a")
    b = start_server(via(redis_server.url, ack="relayed"), name="b")
    await ready(a, b)
    await wait_for(lambda: len(health(a)[1]["backplane"]["heartbeat"]["processes"]) == 2)
    sender, remote = await clients.python(a.url), await clients.js(b.url)
    acks = await asyncio.gather(*[sender.call("broadcast", n) for n in range(200)])
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    assert acks == [{"ok": True}] * 200
    await wait_for(lambda: len(received(remote)) >= 200, timeout=10)
    assert sorted(received(remote)) == list(range(200))  # every acked message reached the other process


async def test_drops_are_logged_when_they_happen_and_a_stall_is_seen_quickly(
        start_server, redis_server, proxies, clients):
    cut = proxies()
    a = start_server(via(cut.url, buffer_size=5), name="a")
    b = start_server(via(redis_server.url), name="b")
    await ready(a, b)
    sender, remote = await clients.python(a.url), await clients.python(b.url)
    await sender.call("broadcast", "known")  # b now knows a's sequence numbers
    assert await remote.expect("receiveAll") == ["known"]
    loop = asyncio.get_running_loop()
    stalled_at = loop.time()
    cut.stall()
    await wait_for(lambda: health(a)[0] == 503, timeout=3, interval=0.02)
    print(f"\nstall noticed after {loop.time() - stalled_at:.2f}s (stall_timeout 0.9s)")
    cut.cut()  # from stalled to unreachable: nothing sent from now on can arrive late
    cut.resume()
    for n in range(12):
        await sender.call("broadcast", n)
    await wait_for(lambda: "(1 dropped so far)" in a.logs())  # while Redis is still away
    assert a.logs().count("dropped so far") == 1  # rate-limited: one line for this burst
    assert health(a)[1]["backplane"]["dropped"] == 7
    cut.restore()
    await wait_for(lambda: 11 in received(remote), timeout=10)
    await remote.assert_none("nothing", within=0.3)
    assert received(remote) == ["known", 7, 8, 9, 10, 11]
    assert stream_of(health(b)[1])["missed"] == 7  # the receiver sees the sender's drops as one gap
    assert re.search(r"connected to Redis at .* after [\d.]+s .*; 5 buffered message\(s\) to deliver", a.logs())

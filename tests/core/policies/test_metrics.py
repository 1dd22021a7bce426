"""GET /metrics (prometheus_client's format) and the readiness probe, against real servers."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.asyncio


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def scrape(server) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus_client's own parser: (name, labels) -> value."""
    status, body = get(server.url + "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_each_counter_moves_by_what_the_session_did(start_server, clients):
    server = start_server()
    before = scrape(server)
    alice = await clients.python(server.url)
    bob = await clients.js(server.url, transports=["websocket"])
    await asyncio.sleep(0.2)  # the JS client's upgrade finished
    assert (await alice.call("broadcast", "hello"))["ok"] is True
    await bob.expect("receiveAll")
    refused = await alice.call("test2", "not an object")           # validation
    assert refused["ok"] is False
    refused = await alice.call("groupmsg", "lobby", "hi")            # not a member
    assert refused["ok"] is False
    refused = await alice.call("no-such-event", 1)                   # unknown event
    assert refused["ok"] is False
    await alice.close()
    await asyncio.sleep(0.3)
    after = scrape(server)

    assert moved(before, after, "chat_socketio_events_received_total", event="broadcast") == 1
    assert moved(before, after, "chat_socketio_events_received_total", event="test2") == 1
    assert moved(before, after, "chat_socketio_events_received_total", event="groupmsg") == 1
    assert moved(before, after, "chat_socketio_events_received_total", event="unknown") == 1
    assert moved(before, after, "chat_socketio_events_emitted_total", event="receiveAll") == 1
    assert moved(before, after, "chat_deliveries_total") == 2  # the broadcast reached alice and bob
    assert moved(before, after, "chat_acks_refused_total", reason="validation") == 1
    assert moved(before, after, "chat_acks_refused_total", reason="not_member") == 1
    assert moved(before, after, "chat_connects_total", namespace="/") == 2
    # python-socketio's client closes its transport as it leaves: one disconnect, whatever reason.
    gone = {dict(labels)["reason"]: v - before.get((name, labels), 0.0)
            for (name, labels), v in after.items() if name == "chat_disconnects_total"}
    assert sum(gone.values()) == 1, gone
    assert set(gone) <= {"client disconnect", "transport close"}, gone
    assert value(after, "chat_connections", transport="websocket") == 1  # bob is still here
    # No series is named after what a client chose.
    assert not any("no-such-event" in str(labels) for _, labels in after)


async def test_rate_limited_and_internal_errors_are_counted_by_reason(start_server, clients):
    server = start_server({"server": {"rate_limit": {"messages_per_second": 1, "burst": 1,
                                                     "disconnect_after": 0}}})
    before = scrape(server)
    alice = await clients.python(server.url)
    answers = [await alice.call("broadcast", f"m{i}") for i in range(3)]
    limited = sum(1 for a in answers if a["ok"] is False)
    assert limited >= 1
    after = scrape(server)
    assert moved(before, after, "chat_acks_refused_total", reason="rate_limited") == limited


async def test_two_workers_both_appear(start_server, redis_server, clients):
    server = start_server({"server": {"workers": 2},
                           "backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    pids = set()
    for _ in range(40):  # each scrape reaches one worker; every one answers for both
        samples = scrape(server)
        pids |= {dict(labels).get("pid") for name, labels in samples if name == "chat_figure"}
        if len(pids - {None}) >= 2:
            break
        await asyncio.sleep(0.25)
    assert len(pids - {None}) == 2, pids


def ready(server) -> tuple[int, dict]:
    status, body = get(server.url + "/healthz/ready")
    return status, json.loads(body)


async def wait_status(server, wanted: int, timeout: float = 15.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = ready(server)
        if status == wanted:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"readiness stayed {status}: {body}")
        await asyncio.sleep(0.2)


async def test_readiness_fails_when_redis_stops_and_recovers(start_server, redis_server):
    server = start_server({"backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    await wait_status(server, 200)
    assert get(server.url + "/healthz/live")[0] == 200
    redis_server.stop()
    body = await wait_status(server, 503)
    assert "backplane down" in body["problems"]
    assert get(server.url + "/healthz/live")[0] == 200  # alive: only waiting for Redis
    redis_server.start()
    await wait_status(server, 200)


async def test_readiness_fails_when_the_reader_is_stalled(start_server, redis_server):
    proxy = TcpProxy(redis_server.port).start()
    try:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        server = start_server({"server": {"readiness_max_read_lag": 1.5},
                               "backplane": {"kind": "redis", "redis": {"url": url}}})
        await wait_status(server, 200)
        proxy.stall()  # connections stay open, nothing passes: a deaf reader, not a reset
        body = await wait_status(server, 503)
        assert body["problems"], body
        for _ in range(50):  # the lag grows while nothing is read: a deaf reader shows
            if value(scrape(server), "chat_backplane_read_lag_seconds") > 1.5:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the read lag did not grow while the reader was stalled")
        assert ready(server)[0] == 503
        proxy.resume()
        await wait_status(server, 200)
    finally:
        proxy.close()


async def test_connect_and_disconnect_are_logged_as_json_lines(start_server, clients):
    server = start_server({"server": {"log_format": "json", "log_level": "INFO"}})
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid("/")
    await alice.close()
    await asyncio.sleep(0.3)
    records = [json.loads(line) for line in server.log_path.read_text().splitlines()
               if line.startswith("{")]
    events = {r.get("event"): r for r in records if r.get("sid") == sid}
    assert events["connect"]["transport"] in ("polling", "websocket")
    assert events["connect"]["address"] == "127.0.0.1"
    assert events["disconnect"]["reason"] in ("client disconnect", "transport close")
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)

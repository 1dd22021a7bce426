"""Soak: rounds of connect / entry / groupmsg / disconnect churn on two processes sharing one Redis.

SOAK_ROUNDS (default 30, quick enough for CI) sets the number of rounds. Afterwards both processes
must be back to zero clients, sessions and rooms, their memory must not have grown much, and every
room message must have reached every member present exactly once (and no outsider).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest

from tests.support.clients import JsClient, PyClient
from tests.support.raw import health, wait_until

pytestmark = [pytest.mark.soak, pytest.mark.redis]

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "30"))
WARMUP = max(2, ROUNDS // 10)  # rounds before the first memory sample
MAX_RSS_GROWTH_KIB = 30 * 1024
OK = {"ok": True}


def on_redis(redis) -> dict:
    return {"backplane": {"kind": "redis", "redis": {"url": redis.url}}}


async def close(client) -> None:
    """A clean client-side disconnect.

    Long-polling members are JS clients: python-engineio's client either waits for its pending
    long-poll on disconnect (seconds per client) or, with abort=True, sometimes never sends the
    close packet, so the server would keep the session until the ping timeout.
    """
    await client.close()


async def kill(client: JsClient) -> None:
    """End a JS client the way a crashed browser tab does: the process dies, the socket drops."""
    client.proc.kill()
    await client.proc.wait()
    client._reader.cancel()


def counts(server) -> tuple[int, int, int]:
    body = health(server.url)
    return body["clients"], body["sessions"], body["rooms"]


async def run_round(number: int, a, b, delivered: Counter, expected: Counter, leaks: list) -> None:
    room, other = f"soak-{number}", f"elsewhere-{number}"
    js_home, outsider_home = (a, b) if number % 2 else (b, a)
    # Members on both processes and both transports; the JS clients swap processes every round.
    members = await asyncio.gather(
        PyClient(a.url, transports=["websocket"]).connect(),
        PyClient(b.url, transports=["websocket"]).connect(),
        JsClient(outsider_home.url, transports=["polling"]).connect(),
        JsClient(js_home.url, transports=["websocket"]).connect(),
        PyClient(js_home.url, transports=["websocket"]).connect(),
    )
    outsider = await PyClient(outsider_home.url).connect()
    everyone = [*members, outsider]
    try:
        acks = await asyncio.gather(*(m.call("entry", room, f"m{i}") for i, m in enumerate(members)),
                                    outsider.call("entry", other, "outsider"))
        assert acks == [OK] * len(everyone), acks
        payloads = [f"r{number}-from-m{i}" for i in range(len(members))]
        acks = await asyncio.gather(*(m.call("groupmsg", room, text) for m, text in zip(members, payloads)))
        assert acks == [OK] * len(members), acks
        for text in payloads:
            expected[text] += len(members)

        def all_arrived() -> bool:
            return all(len(m.inbox.all("receiveGroupMsg")) >= len(payloads) for m in members)

        await wait_until(all_arrived, timeout=10, interval=0.01, what=f"round {number} deliveries")
        for member in members:
            got = member.inbox.all("receiveGroupMsg")
            assert sorted(got) == sorted([room, text] for text in payloads), (number, got)
            delivered.update(text for _, text in got)
        leaks.extend(outsider.inbox.all("receiveGroupMsg"))
    finally:
        js = members[3]
        if number % 5 == 0:
            await kill(js)  # an abrupt end now and then
        else:
            await close(js)
        await asyncio.gather(*(close(c) for c in everyone if c is not js), return_exceptions=True)


async def test_churn_leaves_nothing_behind(start_server, redis_server):
    a = start_server(on_redis(redis_server), name="soak-a")
    b = start_server(on_redis(redis_server), name="soak-b")
    await wait_until(lambda: health(a.url)["status"] == "ok" and health(b.url)["status"] == "ok", timeout=10,
                     what="backplane connected")
    delivered, expected, leaks = Counter(), Counter(), []
    warm = {}
    started = asyncio.get_running_loop().time()
    for number in range(1, ROUNDS + 1):
        await run_round(number, a, b, delivered, expected, leaks)
        if number == WARMUP:
            warm = {s.url: health(s.url)["rss_kib"] for s in (a, b)}
    elapsed = asyncio.get_running_loop().time() - started

    print(f"\nafter the rounds: a {counts(a)}, b {counts(b)} (clients, sessions, rooms)")
    for srv in (a, b):
        await wait_until(lambda: counts(srv) == (0, 0, 0), timeout=20,
                         what=f"{srv.url} back to 0 clients/sessions/rooms (now {counts(srv)})")
    print(f"back to zero {asyncio.get_running_loop().time() - started - elapsed:.1f}s after the last round")
    final = {s.url: health(s.url)["rss_kib"] for s in (a, b)}
    for srv, name in ((a, "a"), (b, "b")):
        growth = final[srv.url] - warm[srv.url]
        print(f"\nsoak {name}: {ROUNDS} rounds in {elapsed:.1f}s, rss after warm-up {warm[srv.url]} KiB, "
              f"at the end {final[srv.url]} KiB, growth {growth} KiB")
        assert growth < MAX_RSS_GROWTH_KIB
    print(f"soak: {sum(expected.values())} deliveries expected, {sum(delivered.values())} made")
    assert delivered == expected  # every message to every member present, once
    assert leaks == []  # and to nobody outside the room
    for srv in (a, b):
        logs = srv.logs()
        assert "Traceback" not in logs and "Task was destroyed" not in logs, logs[-3000:]

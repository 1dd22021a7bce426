"""ctx.on_join: a joiner's live room messages are held while the hook runs, then cut by the ids it returns."""

from __future__ import annotations

import asyncio

from tests.core.api.conftest import with_fixture_plugins
from tests.support.server import merge

FAST = {"server": {"rate_limit": {"messages_per_second": 100000.0, "burst": 100000, "disconnect_after": 0}}}


async def test_held_messages_follow_the_hook_and_lose_what_it_sent(start_server, clients):
    server = start_server(merge(FAST, with_fixture_plugins("join_probe", join_probe={"delay": 0.3})))
    poster = await clients.python(server.url)
    assert await poster.expect("probeConnected") == []  # the connect join ran for it too
    assert (await poster.call("entry", "r", "poster"))["ok"]

    async def post():
        for i in range(count):
            await poster.emit("groupmsg", "r", i)
            await asyncio.sleep(0.005)

    count = 300
    posting = asyncio.create_task(post())
    await asyncio.sleep(0.2)
    joiners = []
    for n in range(4):
        joiner = await (clients.js(server.url) if n % 2 else clients.python(server.url))
        assert (await joiner.call("entry", "r", f"j{n}"))["ok"]
        joiners.append(joiner)
        await asyncio.sleep(0.1)
    await posting
    held_somewhere = False
    for joiner in joiners:
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            order = [(name, args) for name, args in joiner.inbox._events
                     if name in ("probeJoined", "receiveGroupMsg")]
            if order and order[0][0] == "probeJoined" and (count - 1 in order[0][1][1] or ["r", count - 1] in
                                                          [a for n, a in order if n == "receiveGroupMsg"]):
                break
            assert asyncio.get_running_loop().time() < deadline, order[:3]
            await asyncio.sleep(0.05)
        assert order[0][0] == "probeJoined", order[:3]  # nothing live before the hook's message
        sent_by_hook = order[0][1][1]
        live = [args[1] for name, args in order[1:]]
        assert all(name == "receiveGroupMsg" for name, _ in order[1:])
        held_somewhere |= bool(live)
        combined = sent_by_hook + live
        assert combined == list(range(count)), combined  # nothing twice, nothing lost, in order
    assert held_somewhere, "messages were posted while hooks slept 0.3 s: some must have been held"


async def test_without_join_hooks_nothing_is_held(start_server, clients):
    server = start_server()
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    assert (await alice.call("entry", "plain", "alice"))["ok"]
    assert (await bob.call("entry", "plain", "bob"))["ok"]
    assert (await alice.call("groupmsg", "plain", "hi"))["ok"]
    assert await bob.expect("receiveGroupMsg") == ["plain", "hi"]
    status = await asyncio.to_thread(_health, server.url)
    assert status["plugins"] == {}


def _health(url):
    import json
    import urllib.request
    with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
        return json.load(resp)

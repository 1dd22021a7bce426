"""Connection-state recovery on one process (memory backplane), with the official JS client."""

import asyncio

import pytest

from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.asyncio

RECOVERING = {"auth": {"recover": True}, "reconnection": True, "reconnectionDelay": 100,
              "reconnectionDelayMax": 200, "randomizationFactor": 0}


async def wait_for(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def connects(client):
    return [args[0] for args in client.inbox.all("connect")]


async def test_recovers_rooms_nickname_and_missed_messages(start_server, clients):
    server = start_server()
    proxy = await TcpProxy(server.port).start()
    try:
        ann = await clients.js(proxy.url, extra_opts=RECOVERING)
        first = connects(ann)[0]
        assert first["recovered"] is False
        ben = await clients.python(server.url)
        await ann.call("entry", "room1", "ann")
        await ben.call("entry", "room1", "ben")
        proxy.target = None  # ann's reconnects are refused until the gap ends
        await ann.drop()
        await ann.expect("disconnect")
        for i in range(20):
            await ben.call("groupmsg", "room1", f"m{i}")
        proxy.target = server.port
        await wait_for(lambda: len(connects(ann)) == 2)
        again = connects(ann)[1]
        assert again["recovered"] is True and again["id"] == first["id"]
        got = [await ann.expect("receiveGroupMsg") for _ in range(20)]
        assert [args[:2] for args in got] == [["room1", f"m{i}"] for i in range(20)]
        assert all(isinstance(args[2], str) for args in got)  # the offset, last
        assert (await ann.expect("recovered"))[0] == {"missed": 20}
        # Still in the room with its nickname: it can post (no entry again), and live traffic follows.
        assert await ann.call("groupmsg", "room1", "back") == {"ok": True}
        assert (await ann.expect("receiveGroupMsg"))[:2] == ["room1", "back"]
        await ann.assert_none("receiveGroupMsg", within=0.3)  # nothing twice
        for notice in ["You entered room room1 as ben",
                       "ann left the room (connection lost, may be back soon)", "ann is back"]:
            assert await ben.expect("entryok") == [notice]
    finally:
        await proxy.stop()

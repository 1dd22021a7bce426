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
        assert (await ann.expect("entryok"))[0] == "You entered room room1 as ann"
        assert (await ann.expect("entryok"))[0] == "ben entered the room"  # the replay: ben's posts only
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


async def drop_and_send(ann, ben, proxy, server, messages, gap=0.0):
    """Cut ann off, let ben post during the gap, then let ann's reconnect through."""
    proxy.target = None
    await ann.drop()
    await ann.expect("disconnect")
    for i in range(messages):
        await ben.call("groupmsg", "room1", f"m{i}")
    await asyncio.sleep(gap)
    proxy.target = server.port


async def test_a_gap_longer_than_the_window_is_a_new_connection(start_server, clients):
    server = start_server({"server": {"connection_state_recovery": {"max_disconnection_duration": 0.5}}})
    proxy = await TcpProxy(server.port).start()
    try:
        ann = await clients.js(proxy.url, extra_opts=RECOVERING)
        ben = await clients.python(server.url)
        await ann.call("entry", "room1", "ann")
        await ben.call("entry", "room1", "ben")
        await drop_and_send(ann, ben, proxy, server, 5, gap=1.0)
        await wait_for(lambda: len(connects(ann)) == 2)
        again = connects(ann)[1]
        assert again["recovered"] is False and again["id"] != connects(ann)[0]["id"]
        await ann.assert_none("receiveGroupMsg", within=0.5)  # nothing replayed
        assert not ann.inbox.all("recovered")
        # A new connection: not in the room any more, as before recovery existed.
        assert (await ann.call("groupmsg", "room1", "x"))["ok"] is False
        assert "ann left the room (connection lost, may be back soon)" in [a[0] for a in ben.inbox.all("entryok")]
    finally:
        await proxy.stop()


async def test_the_clients_own_disconnect_is_not_recoverable(start_server, clients):
    server = start_server()
    ann = await clients.js(server.url, extra_opts=RECOVERING)
    ben = await clients.python(server.url)
    await ann.call("entry", "room1", "ann")
    await ben.call("entry", "room1", "ben")
    assert await ben.expect("entryok") == ["You entered room room1 as ben"]
    await ann.disconnect()
    await ann.expect("disconnect")
    assert await ben.expect("entryok") == ["ann left the room"]  # a plain leave, no "may be back"
    await ben.call("groupmsg", "room1", "while away")
    await ann.reconnect()  # the client still holds its pid and offset: the server must not honour them
    await wait_for(lambda: len(connects(ann)) == 2)
    again = connects(ann)[1]
    assert again["recovered"] is False and again["id"] != connects(ann)[0]["id"]
    await ann.assert_none("receiveGroupMsg", within=0.5)


async def test_python_clients_get_no_offsets_and_no_pid(start_server, clients):
    server = start_server()
    ann = await clients.js(server.url, extra_opts=RECOVERING)
    bob = await clients.js(server.url)  # no opt-in: the tutorial's pages and clients as before
    cat = await clients.python(server.url)
    await cat.call("broadcast", "hi")
    assert (await ann.expect("receiveAll"))[0] == "hi" and len(ann.inbox.all("receiveAll")[0]) == 2
    assert await bob.expect("receiveAll") == ["hi"]
    assert await cat.expect("receiveAll") == ["hi"]

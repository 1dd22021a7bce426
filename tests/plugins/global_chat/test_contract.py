"""global_chat over the wire: broadcast/test1/test2 reach everybody, sender included."""

import pytest

pytestmark = pytest.mark.asyncio


async def test_broadcast_reaches_everybody_including_sender(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.js(server.url)
    assert await alice.call("broadcast", "hello") == {"ok": True}
    assert await alice.expect("receiveAll") == ["hello"]
    assert await bob.expect("receiveAll") == ["hello"]

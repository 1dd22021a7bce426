"""global_chat over the wire: broadcast/test1/test2 reach everybody, sender included, unchanged."""

from tests.plugins.wire import OK

# Any JSON value is relayed as it came (the Node server relays whatever it gets).
VALUES = [
    "hello",
    "",
    "héllo wörld, 世界 🎉",
    "line\nbreak\ttab \"quoted\" \\ back",
    0,
    42,
    -7,
    3.25,
    10**15,
    True,
    False,
    None,
    [],
    [1, "two", None, [3.5, {"four": 4}]],
    {},
    {"user": {"name": "Zoë", "tags": ["a", "b"], "age": None, "ok": True}, "n": 1.5},
]


async def test_broadcast_reaches_everybody_including_sender(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    assert await alice.call("broadcast", "hello") == OK
    assert await alice.expect("receiveAll") == ["hello"]
    assert await bob.expect("receiveAll") == ["hello"]


async def test_broadcast_reaches_the_sender_once(server, connect):
    alice = await connect(server.url)
    await alice.call("broadcast", "once")
    await alice.call("broadcast", "next")
    assert await alice.expect("receiveAll") == ["once"]
    assert await alice.expect("receiveAll") == ["next"]


async def test_broadcast_relays_any_json_value_unchanged(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    for value in VALUES:
        assert await alice.call("broadcast", value) == OK
        assert await alice.expect("receiveAll") == [value]
        assert await bob.expect("receiveAll") == [value]


async def test_test1_sends_both_arguments_to_everybody(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    assert await alice.call("test1", "a", "b") == OK
    assert await alice.expect("receive1") == ["a", "b"]
    assert await bob.expect("receive1") == ["a", "b"]


async def test_test1_relays_any_json_values_unchanged(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    for a, b in zip(VALUES, reversed(VALUES)):
        assert await alice.call("test1", a, b) == OK
        assert await alice.expect("receive1") == [a, b]
        assert await bob.expect("receive1") == [a, b]


async def test_test2_sends_the_object_to_everybody(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    obj = {"name": "alice", "msg": "hi", "nested": {"list": [1, None, "ü"]}}
    assert await alice.call("test2", obj) == OK
    assert await alice.expect("receive2") == [obj]
    assert await bob.expect("receive2") == [obj]


async def test_test2_relays_an_empty_object(server, connect):
    alice = await connect(server.url)
    assert await alice.call("test2", {}) == OK
    assert await alice.expect("receive2") == [{}]


async def test_each_event_answers_only_with_its_own_reply(server, connect):
    alice = await connect(server.url)
    await alice.call("test1", 1, 2)
    await alice.call("broadcast", "last")
    assert await alice.expect("receiveAll") == ["last"]
    assert alice.inbox.all("receive1") == [[1, 2]]
    assert alice.inbox.all("receive2") == []


async def test_every_client_kind_hears_every_other(server, clients):
    py = await clients.python(server.url, transports=["websocket"])
    js_ws = await clients.js(server.url, transports=["websocket"])
    js_poll = await clients.js(server.url, transports=["polling"])
    everyone = [py, js_ws, js_poll]
    for sender in everyone:
        msg = {"from": sender.kind, "transports": getattr(sender, "opts", {}).get("transports")}
        assert await sender.call("broadcast", msg) == OK
        for client in everyone:
            assert await client.expect("receiveAll") == [msg]


async def test_upgraded_js_client_takes_part(server, clients):
    upgraded = await clients.js(server.url, transports=["polling", "websocket"])
    py = await clients.python(server.url)
    assert await upgraded.call("broadcast", "from upgraded") == OK
    assert await py.expect("receiveAll") == ["from upgraded"]
    assert await py.call("test1", "to", "upgraded") == OK
    assert await upgraded.expect("receive1") == ["to", "upgraded"]

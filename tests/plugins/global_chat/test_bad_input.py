"""global_chat refuses bad input with a clear error ack, relays nothing, and keeps serving."""

import pytest

from tests.plugins.wire import KINDS, OK, ServerLog, open_client, refused

REPLIES = ("receiveAll", "receive1", "receive2")

# (event, args, reason); bytes are python-only (the JS harness speaks JSON).
BAD = [
    ("broadcast", (), "broadcast expects 1 argument (msg), got 0"),
    ("broadcast", ("a", "b"), "broadcast expects 1 argument (msg), got 2"),
    ("broadcast", (b"\x00\x01",), "broadcast: msg must be a JSON value (no binary data, NaN or Infinity)"),
    ("test1", (), "test1 expects 2 arguments (a, b), got 0"),
    ("test1", ("a",), "test1 expects 2 arguments (a, b), got 1"),
    ("test1", ("a", "b", "c"), "test1 expects 2 arguments (a, b), got 3"),
    ("test1", ("a", b"\xff"), "test1: b must be a JSON value (no binary data, NaN or Infinity)"),
    ("test2", (), "test2 expects 1 argument (obj), got 0"),
    ("test2", ({}, {}), "test2 expects 1 argument (obj), got 2"),
    ("test2", (1,), "test2: obj must be an object, not a number"),
    ("test2", (1.5,), "test2: obj must be an object, not a number"),
    ("test2", ("text",), "test2: obj must be an object, not a string"),
    ("test2", ("",), "test2: obj must be an object, not a string"),
    ("test2", ([1, 2],), "test2: obj must be an object, not an array"),
    ("test2", ([],), "test2: obj must be an object, not an array"),
    ("test2", (None,), "test2: obj must be an object, not null"),
    ("test2", (True,), "test2: obj must be an object, not a boolean"),
    ("test2", (b"\x00",), "test2: obj must be an object, not binary data"),
]
JSON_BAD = [case for case in BAD if not any(isinstance(a, bytes) for a in case[1])]


def case_id(case):
    event, args, _ = case
    return f"{event}{args!r}"[:60]


@pytest.mark.parametrize("event, args, reason", BAD, ids=[case_id(c) for c in BAD])
async def test_bad_input_gets_an_error_ack_and_nothing_is_relayed(server, clients, event, args, reason):
    sender = await clients.python(server.url)
    bystander = await clients.python(server.url)
    log = ServerLog(server)

    assert await sender.call(event, *args) == refused(reason)

    assert await sender.call("broadcast", "still here") == OK
    assert await bystander.expect("receiveAll") == ["still here"]
    assert [bystander.inbox.all(reply) for reply in REPLIES] == [[["still here"]], [], []]
    log.assert_refused(event, reason)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("js")])
async def test_js_client_gets_the_same_error_acks(server, clients, kind):
    sender = await open_client(clients, server.url, kind)
    bystander = await clients.python(server.url)
    log = ServerLog(server)

    for event, args, reason in JSON_BAD:
        assert await sender.call(event, *args) == refused(reason), (event, args)

    assert await sender.call("broadcast", "still here") == OK
    assert await bystander.expect("receiveAll") == ["still here"]
    assert [bystander.inbox.all(reply) for reply in REPLIES] == [[["still here"]], [], []]
    assert sum(len(log.refused_lines(e)) for e in ("broadcast", "test1", "test2")) == len(JSON_BAD)
    log.assert_clean()


async def test_unknown_event_gets_an_error_ack_and_nothing_is_broadcast(server, connect, clients):
    sender = await connect(server.url)
    bystander = await clients.python(server.url)
    assert await sender.call("shout", "hello") == refused("unknown event 'shout'")
    assert await sender.call("broadcast", "after") == OK
    assert await bystander.expect("receiveAll") == ["after"]
    assert [bystander.inbox.all(reply) for reply in REPLIES] == [[["after"]], [], []]
    assert bystander.inbox.all("shout") == []


async def test_unknown_event_without_arguments_gets_an_error_ack(server, connect):
    sender = await connect(server.url)
    assert await sender.call("receiveAll") == refused("unknown event 'receiveAll'")


async def test_sender_keeps_working_after_a_refusal(server, connect):
    alice = await connect(server.url)
    assert (await alice.call("test2", "not an object"))["ok"] is False
    assert await alice.call("test2", {"fine": True}) == OK
    assert await alice.expect("receive2") == [{"fine": True}]

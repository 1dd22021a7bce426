"""Handlers from the plugin author's side: Rest, binary arguments, the ack convention, errors, before_send."""

import pytest

from tests.plugins.wire import OK, ServerLog, refused


@pytest.fixture(params=["python", "js-websocket", "js-polling"])
async def client(request, probe_server, clients):
    kind = request.param
    if kind == "python":
        return await clients.python(probe_server.url)
    return await clients.js(probe_server.url, transports=[kind.split("-")[1]])


async def test_variadic_arguments_round_trip(client):
    assert await client.call("probe_variadic", "one") == {"ok": True, "first": "one", "more": []}
    assert await client.call("probe_variadic", "one", 2, [3], {"four": None}) == {
        "ok": True, "first": "one", "more": [2, [3], {"four": None}]}


async def test_variadic_arguments_are_checked_and_bounded(client):
    assert await client.call("probe_variadic") == refused(
        "probe_variadic expects 1 to 4 arguments (first, ...more), got 0")
    assert await client.call("probe_variadic", "one", 1, 2, 3, 4) == refused(
        "probe_variadic expects 1 to 4 arguments (first, ...more), got 5")
    assert await client.call("probe_variadic", "one", 1, float("inf") if client.kind == "python" else b"x") == \
        refused("probe_variadic: more[2] must be a JSON value (no binary data, NaN or Infinity)")


async def test_raw_ack_values(client):
    raw = client.call_raw if client.kind == "js" else None
    if raw is not None:
        assert await raw("probe_raw_ack", 1, "two", None) == [1, "two", None]
        assert await raw("probe_raw_ack") == []
    else:
        assert await client.call("probe_raw_ack", 1, "two", None) == (1, "two", None)
    assert await client.call("probe_raw_ack", {"only": "one"}) == {"only": "one"}


async def test_binary_arguments_and_binary_acks(client):
    blob = bytes(range(256))
    answer = await client.call("probe_binary", "label", blob)
    reversed_blob, size = answer
    assert bytes(reversed_blob) == bytes(reversed(blob))
    assert size == 256
    label, echoed = await client.expect("probe_binary_echo")
    assert (label, bytes(echoed)) == ("label", blob)


async def test_binary_where_text_is_declared_is_refused(client):
    assert await client.call("probe_binary", b"not text", b"blob") == refused(
        "probe_binary: label must be a string, not binary data")
    assert await client.call("probe_binary", "label", "not bytes") == refused(
        "probe_binary: blob must be binary data, not a string")
    assert await client.call("probe_binary", "label", bytes(1025)) == refused(
        "probe_binary: blob is too large (1025 bytes, at most 1024)")


async def test_returned_dict_is_merged_into_ok(client):
    assert await client.call("probe_rooms") == {"ok": True, "rooms": []}


async def test_handler_bug_answers_internal_error_and_keeps_the_client(probe_server, client):
    log = ServerLog(probe_server)
    assert await client.call("probe_bug") == refused("internal error")
    assert await client.call("probe_bad_return") == refused("internal error")
    await log.wait_for("RuntimeError: probe bug")
    await log.wait_for("a handler returns None, a dict or Ack(...), not list")
    text = log.new()
    assert text.count("Traceback") == 2
    assert text.count("handler for probe_bug failed") == 1
    assert "malformed" not in text
    # still connected, still served
    assert await client.call("broadcast", "after the bug") == OK
    assert await client.expect("receiveAll") == ["after the bug"]


async def test_client_error_is_one_line(probe_server, client):
    log = ServerLog(probe_server)
    assert await client.call("probe_refuse") == refused("refused on purpose")
    await log.wait_for("refused probe_refuse from")
    log.assert_refused("probe_refuse", "refused on purpose")


async def test_before_send_refuses_a_message_and_the_sender_gets_the_error(probe_server, clients):
    alice = await clients.js(probe_server.url)
    bob = await clients.python(probe_server.url)
    assert await alice.call("broadcast", "forbidden") == refused("message refused by api_probe")
    await bob.assert_none("receiveAll", within=0.3)
    await alice.assert_none("receiveAll", within=0)


async def test_before_send_rewrites_a_message_once_for_every_recipient(probe_server, clients):
    from tests.plugins.wire import chatlog

    watchers = [await clients.python(probe_server.url) for _ in range(3)]
    alice = await clients.js(probe_server.url)
    assert await alice.call("broadcast", "rewrite me") == OK
    for client in (alice, *watchers):
        assert await client.expect("receiveAll") == ["rewritten"]
    state = await chatlog(probe_server, "/probe/state")
    assert state["before_send"]["rewrite me"] == 1  # once per message, not per recipient (4 here)

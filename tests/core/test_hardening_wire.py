"""Raw Engine.IO traffic no real client sends: a bad packet costs its sender the connection, nobody else anything.

Every test talks to a real server process over real sockets (tests/support/raw.py speaks the
wire format byte for byte) while a well-behaved client on the same server keeps chatting.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import aiohttp
import pytest

from tests.support.raw import (
    SEPARATOR,
    LogMark,
    RawPolling,
    RawWebSocket,
    eio_url,
    event_packet,
    health,
    http_status,
    parse_ack,
    wait_until,
    websocket_refused,
)

SMALL = 2048  # max_message_size of this module's server
PROMPTLY = 2.0  # seconds within which a bad connection must be gone
CLOSE_LINE = ("closing", "127.0.0.1")  # what the one log line about a dropped connection says
_texts = itertools.count(1)


@pytest.fixture(autouse=True)
async def close_raw_websockets():
    yield
    await RawWebSocket.close_all()


@pytest.fixture(scope="module")
def wire_server(module_server):
    return module_server({"server": {"max_message_size": SMALL}})


@pytest.fixture
async def bystander(wire_server, clients):
    """A well-behaved client on the same server; it must never notice the abuse."""
    client = await clients.python(wire_server.url, transports=["websocket"])
    await assert_chatting(client)
    return client


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def assert_chatting(client) -> None:
    """The client can still send, and still receives, a broadcast."""
    text = f"still here {next(_texts)}"
    assert await client.call("broadcast", text) == {"ok": True}
    while await client.expect("receiveAll") != [text]:
        pass


def assert_no_traceback(mark: LogMark) -> None:
    text = mark.new()
    for bad in ("Traceback", "Task exception was never retrieved", "Task was destroyed"):
        assert bad not in text, f"{bad!r} in server log:\n{text}"


# Malformed packets ------------------------------------------------------------------------------------------

# What a websocket peer may send instead of a valid packet; each closes only that connection.
WS_GARBAGE = {
    "socketio-type-not-a-digit": "4abc",
    "event-payload-object": "42{}",
    "event-payload-not-json": "42abc",
    "event-payload-empty-list": "42[]",
    "event-name-a-number": "42[1]",
    "event-payload-missing": "42",
    "event-json-truncated": '42["broadcast"',
    "engineio-type-9": "9",
    "empty-frame": "",
    "binary-garbage": b"\x00\xff\xfe\x80 garbage",
    "not-engineio-at-all": "hello",
    "connect-error-from-client": "44",
    "base64-prefix-bad-padding": "bAAA",
    "integer-of-101-digits": '42["broadcast",' + "9" * 101 + "]",
}


@pytest.mark.parametrize("frame", WS_GARBAGE.values(), ids=WS_GARBAGE.keys())
async def test_malformed_websocket_frame_closes_only_that_connection(wire_server, bystander, frame):
    mark = LogMark(wire_server)
    raw = await RawWebSocket.open(wire_server.url)
    await raw.send(frame)
    assert await raw.closed_within(PROMPTLY) < PROMPTLY
    lines = await mark.wait_for(*CLOSE_LINE)
    assert len(lines) == 1, lines  # one line per dropped connection
    assert "invalid Engine.IO packet" in lines[0] or "malformed Socket.IO packet" in lines[0], lines[0]
    await assert_chatting(bystander)
    assert_no_traceback(mark)


POLLING_GARBAGE = [
    pytest.param("4abc", id="socketio-type-not-a-digit"),
    pytest.param("42{}", id="event-payload-object"),
    pytest.param("42abc", id="event-payload-not-json"),
    pytest.param("42[]", id="event-payload-empty-list"),
    pytest.param("42[1]", id="event-name-a-number"),
    pytest.param("42", id="event-payload-missing"),
    pytest.param('42["broadcast"', id="event-json-truncated"),
    pytest.param("44", id="connect-error-from-client"),
    pytest.param('42["broadcast",' + "9" * 101 + "]", id="integer-of-101-digits"),
    pytest.param("9", id="engineio-type-9"),
    pytest.param(b"\x00\xff\xfe\x80 garbage", id="binary-garbage"),
    pytest.param("hello", id="not-engineio-at-all"),
    pytest.param("bAAA", id="base64-prefix-bad-padding"),
]


@pytest.mark.parametrize("body", POLLING_GARBAGE)
async def test_malformed_polling_post_ends_only_that_session(wire_server, bystander, http, body):
    mark = LogMark(wire_server)
    raw = await RawPolling.open(http, wire_server.url)
    status = await raw.post(body)
    assert status in (200, 400)
    assert await raw.closed_within(PROMPTLY) < PROMPTLY
    assert await mark.wait_for(*CLOSE_LINE)
    await assert_chatting(bystander)
    assert_no_traceback(mark)


async def test_empty_polling_post_ends_only_that_session(wire_server, bystander, http):
    """An empty payload is not an Engine.IO payload: Node closes the session, and so do we."""
    mark = LogMark(wire_server)
    raw = await RawPolling.open(http, wire_server.url)
    assert await raw.post("") == 200
    assert await raw.closed_within(PROMPTLY) < PROMPTLY
    assert await mark.wait_for(*CLOSE_LINE)
    await assert_chatting(bystander)
    assert_no_traceback(mark)


@pytest.mark.parametrize("body", ["0", "6"], ids=["open-packet", "noop-packet"])
async def test_polling_post_of_open_or_noop_packet_is_answered_promptly(start_server, http, body):
    srv = start_server()
    raw = await RawPolling.open(http, srv.url)
    try:
        async with http.post(raw.url, data=body.encode(), timeout=aiohttp.ClientTimeout(total=3)) as resp:
            status = resp.status
    except asyncio.TimeoutError:
        status = None
    assert status in (200, 400), f"POST {body!r} not answered within 3 s (status {status})"


async def test_burst_from_a_js_polling_client_is_not_lost(wire_server, clients):
    mark = LogMark(wire_server)
    watcher = await clients.python(wire_server.url)
    sender = await clients.js(wire_server.url, transports=["polling"])
    for n in range(40):  # within the default burst of 60
        await sender.emit("broadcast", n)
    try:
        await wait_until(lambda: len(watcher.inbox.all("receiveAll")) >= 40, timeout=3)
    finally:
        got = [args[0] for args in watcher.inbox.all("receiveAll")]
    assert got == list(range(40))
    assert_no_traceback(mark)


async def test_chunked_polling_post_is_processed_or_refused(wire_server, bystander, http):
    raw = await RawPolling.open(http, wire_server.url)

    async def chunks():
        yield event_packet("broadcast", "sent chunked", ack_id=4242).encode()

    async with http.post(raw.url, data=chunks()) as resp:
        status = resp.status
    if status == 200:  # accepted: then it must have been handled, before anything sent after it
        assert await raw.call("broadcast", "sent after it") == [{"ok": True}]
        assert [{"ok": True}] in [parse_ack(p, 4242) for p in raw.seen], raw.seen
    else:
        assert status in (400, 411, 413)


async def test_integer_length_limit(wire_server, bystander):
    """JSON integers up to 99 digits relay exactly; one written with over 100 characters is a malformed packet."""
    raw = await RawWebSocket.open(wire_server.url)
    for number in (10 ** 99 - 1, -(10 ** 99 - 1)):
        assert await raw.call("broadcast", number) == [{"ok": True}]
        assert await bystander.expect("receiveAll") == [number]
    await raw.send('42["broadcast",' + "1" * 101 + "]")
    assert await raw.closed_within(PROMPTLY) < PROMPTLY
    await assert_chatting(bystander)


# Sizes ------------------------------------------------------------------------------------------------------


async def test_oversized_websocket_frame_closes_the_connection(wire_server, bystander):
    raw = await RawWebSocket.open(wire_server.url)
    limit = raw.open_packet["maxPayload"]
    assert limit >= SMALL + 1024  # room for a max_message_size message and its framing
    await raw.send(event_packet("broadcast", "x" * limit))
    assert await raw.closed_within(PROMPTLY) < PROMPTLY
    await assert_chatting(bystander)


async def test_message_above_max_message_size_within_the_frame_limit_gets_an_error_ack(wire_server, bystander):
    raw = await RawWebSocket.open(wire_server.url)
    [ack] = await raw.call("broadcast", "x" * (SMALL + 100))
    assert ack["ok"] is False and "too large" in ack["error"], ack
    assert await raw.call("broadcast", "small again") == [{"ok": True}]  # the connection is kept
    assert await bystander.expect("receiveAll") == ["small again"]  # the refused one never came
    await raw.close()


async def test_oversized_polling_post_is_refused_and_ends_the_session(wire_server, bystander, http):
    raw = await RawPolling.open(http, wire_server.url)
    limit = raw.open_packet["maxPayload"]
    assert limit + 1 < 64 * 1024  # below Sanic's own request limit: the endpoint's check answers
    ending = asyncio.create_task(raw.closed_within(PROMPTLY + 5))
    try:
        async with http.post(raw.url, data=event_packet("broadcast", "x" * limit).encode(),
                             timeout=aiohttp.ClientTimeout(total=3)) as resp:
            status = resp.status
    except asyncio.TimeoutError:
        status = "no answer within 3 s"
    await assert_chatting(bystander)
    assert await ending < PROMPTLY + 5
    assert status == 413  # as Node answers a body over maxHttpBufferSize


async def test_polling_post_above_the_http_request_limit_ends_the_session(wire_server, bystander, http):
    raw = await RawPolling.open(http, wire_server.url)
    assert await raw.post(event_packet("broadcast", "x" * 70_000)) in (400, 413)
    await assert_chatting(bystander)
    assert await raw.closed_within(PROMPTLY) < PROMPTLY


# Sessions that never join -----------------------------------------------------------------------------------


async def test_session_that_never_connects_a_namespace_is_closed_after_connect_timeout(start_server, clients, http):
    srv = start_server({"server": {"connect_timeout": 1}})
    mark = LogMark(srv)
    member = await clients.python(srv.url)  # joined: must outlive the timeout
    idle_ws = await RawWebSocket.open(srv.url, join=False)
    idle_poll = await RawPolling.open(http, srv.url, join=False)
    assert health(srv.url)["sessions"] == 3
    ws_closed, poll_closed = await asyncio.gather(idle_ws.closed_within(4), idle_poll.closed_within(4))
    assert 0.7 < ws_closed < 3 and poll_closed < 3, (ws_closed, poll_closed)
    assert len(mark.lines("no namespace connect within 1.0s")) == 2
    await wait_until(lambda: health(srv.url)["sessions"] == 1, timeout=3, what="idle sessions gone")
    await assert_chatting(member)
    await member.close()
    await wait_until(lambda: health(srv.url)["sessions"] == 0, timeout=3, what="sessions back to 0")
    body = health(srv.url)
    assert (body["clients"], body["rooms"]) == (0, 0)
    assert_no_traceback(mark)


# Unknown and reserved events --------------------------------------------------------------------------------


async def test_unknown_event_gets_an_error_ack_and_no_broadcast(wire_server, bystander):
    raw = await RawWebSocket.open(wire_server.url)
    assert await raw.call("nosuchevent", {"a": 1}) == [{"ok": False, "error": "unknown event 'nosuchevent'"}]
    await assert_chatting(bystander)  # anything relayed for the unknown event would have come first
    assert bystander.inbox.all("nosuchevent") == []
    assert await raw.call("broadcast", "the sender keeps its connection") == [{"ok": True}]
    await raw.close()


@pytest.mark.parametrize("packet", [
    ["disconnect"], ["disconnect", "client namespace disconnect"], ["connect"], ["connect", 5], ["*"], ["*", 1],
], ids=["disconnect", "disconnect-with-reason", "connect", "connect-with-number", "star", "star-with-arg"])
async def test_event_named_like_a_reserved_handler_gets_an_error_ack(wire_server, bystander, packet):
    mark = LogMark(wire_server)
    raw = await RawWebSocket.open(wire_server.url)
    await raw.send("42" + "77" + json.dumps(packet))
    try:
        frame = await raw.recv_matching(lambda f: isinstance(f, str) and f.startswith("4377"), timeout=1)
    except asyncio.TimeoutError:
        raise AssertionError(f"no ack for {packet!r} within 1 s") from None
    acked = parse_ack(frame, 77)
    assert len(acked) == 1 and isinstance(acked[0], dict), f"ack {frame!r}"
    assert acked[0]["ok"] is False and acked[0]["error"], acked
    await assert_chatting(bystander)
    assert_no_traceback(mark)


async def test_event_named_disconnect_cannot_bypass_the_connection_cap(start_server, clients):
    srv = start_server({"server": {"max_connections_per_address": 2}})
    raw = await RawWebSocket.open(srv.url)
    await clients.python(srv.url)
    for _ in range(3):
        await raw.send('42["disconnect"]')
    await asyncio.sleep(0.3)
    extra = await clients.js(srv.url, expect_ok=False)
    await wait_until(lambda: extra.inbox.all("connect") or extra.inbox.all("connect_error"), timeout=5)
    await raw.close()
    assert extra.inbox.all("connect") == [], "a third client got past the cap of 2"
    [[event]] = extra.inbox.all("connect_error")
    assert event["message"].startswith("too many connections")


async def test_event_named_connect_cannot_lock_out_another_address(start_server, clients):
    srv = start_server({"server": {"max_connections_per_address": 2}})
    attacker = await RawWebSocket.open(srv.url)
    for _ in range(2):
        await attacker.send('42["connect", {"REMOTE_ADDR": "127.0.0.2"}]')
    await asyncio.sleep(0.3)
    await attacker.close()
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        victim = await clients.python(srv.url, http_session=session)
        await assert_chatting(victim)
        await victim.close()


# Handshake --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "EIO=3&transport=polling",
    "EIO=5&transport=polling",
    "EIO=abc&transport=polling",
    "transport=polling",
    "EIO=4&transport=carrier-pigeon",
    "EIO=4&transport=websocket",  # a websocket URL asked for with plain HTTP
    "EIO=4&transport=polling&sid=no-such-session",
], ids=["eio3", "eio5", "eio-not-a-number", "eio-missing", "unknown-transport", "websocket-over-plain-http",
        "unknown-sid"])
def test_bad_handshake_is_400(wire_server, query):
    assert http_status(f"{wire_server.url}/socket.io/?{query}") == 400


@pytest.mark.parametrize("eio, transport", [("3", "websocket"), ("4", "carrier-pigeon")],
                         ids=["eio3", "unknown-transport"])
async def test_bad_websocket_handshake_is_refused_with_400(wire_server, eio, transport):
    assert await websocket_refused(wire_server.url, transport=transport, eio=eio) == 400


async def test_websocket_with_unknown_sid_is_refused_with_400(wire_server):
    url = eio_url(wire_server.url, "websocket", sid="no-such-session")
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        await connect(url, open_timeout=5)
    assert refused.value.response.status_code == 400


async def test_bad_handshakes_leave_no_session_behind(wire_server, http):
    before = health(wire_server.url)["sessions"]
    for query in ("EIO=3&transport=polling", "EIO=4&transport=carrier-pigeon"):
        assert http_status(f"{wire_server.url}/socket.io/?{query}") == 400
    assert health(wire_server.url)["sessions"] == before


async def test_polling_payload_of_several_packets_is_handled_in_order(wire_server, bystander, http):
    """A well-formed multi-packet POST (as socket.io-client batches them) is relayed packet by packet."""
    raw = await RawPolling.open(http, wire_server.url)
    body = SEPARATOR.join(event_packet("broadcast", f"batched {n}") for n in range(5))
    assert await raw.post(body) == 200
    for n in range(5):
        while await bystander.expect("receiveAll") != [f"batched {n}"]:
            pass


# Shutdown ---------------------------------------------------------------------------------------------------


async def test_shutdown_with_a_stalled_websocket_peer_leaves_a_clean_log(start_server):
    srv = start_server()
    raw = await RawWebSocket.open(srv.url)
    assert await raw.call("broadcast", "about to stall") == [{"ok": True}]
    took = srv.stop()  # blocking: this event loop, and so the peer, stalls and never answers the close
    await raw.close()
    assert took < 5
    logs = srv.logs()
    for bad in ("Traceback", "Task was destroyed", "Task exception was never retrieved"):
        assert bad not in logs, f"{bad!r} in server log:\n{logs}"

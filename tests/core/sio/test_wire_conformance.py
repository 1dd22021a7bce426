"""Engine.IO and Socket.IO on the wire, byte for byte as Node's reference server answers (issue 18).

Every test runs against this project's server and against Node's socket.io 4.8.4 / engine.io
6.6.13 (conftest.wire_server), with raw HTTP (aiohttp), raw websockets (`websockets`) and the
official JS client; the expected values are what Node answers, measured here each run.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.core.sio.conftest import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT
from tests.support.raw import SEPARATOR

TEXT = {"Content-Type": "text/plain;charset=UTF-8"}  # what browsers send with a polling POST


def endpoint(base: str, query: str = "EIO=4&transport=polling", sid: str | None = None, ws: bool = False) -> str:
    url = f"{base}/socket.io/?{query}" + (f"&sid={sid}" if sid else "")
    return "ws" + url[len("http"):] if ws else url


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http, url: str, timeout: float = 5.0) -> tuple[int, str, str]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        return resp.status, await resp.text(), resp.headers.get("Content-Type", "")


async def post(http, url: str, body: bytes | str, headers=TEXT) -> tuple[int, str, str]:
    data = body.encode() if isinstance(body, str) else body
    async with http.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.text(), resp.headers.get("Content-Type", "")


async def open_polling(http, base: str, join: bool = True) -> tuple[str, dict]:
    """A polling session (its sid and open packet), joined to "/" unless join=False."""
    status, body, _ = await get(http, endpoint(base))
    assert status == 200 and body.startswith("0{"), (status, body)
    handshake = json.loads(body[1:])
    sid = handshake["sid"]
    if join:
        assert (await post(http, endpoint(base, sid=sid), "40"))[0] == 200
        status, body, _ = await get(http, endpoint(base, sid=sid))
        assert status == 200 and body.startswith("40{"), (status, body)
    return sid, handshake


async def ws_recv(ws, timeout: float = 3.0):
    """The next frame that is not a ping (pings are answered)."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), timeout)
        if frame == "2":
            await ws.send("3")
            continue
        return frame


async def open_websocket(base: str, auth: str = "", join: bool = True):
    """A websocket-only session joined to "/" (CONNECT sent with `auth`); the socket and frames after."""
    ws = await connect(endpoint(base, "EIO=4&transport=websocket", ws=True), ping_interval=None,
                       open_timeout=5, compression=None)
    first = await ws_recv(ws)
    assert first.startswith("0{"), first
    if join:
        await ws.send("40" + auth)
    return ws


def assert_session_unknown(status: int, body: str) -> None:
    assert (status, json.loads(body)) == (400, {"code": 1, "message": "Session ID unknown"})


# 1. The handshake advertises what was configured ----------------------------------------------------


async def test_handshake_advertises_configured_values(wire_server, http):
    _, handshake = await open_polling(http, wire_server.url, join=False)
    assert list(handshake) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert handshake["upgrades"] == ["websocket"]
    assert handshake["pingInterval"] == round(PING_INTERVAL * 1000)  # 600, not 0
    assert handshake["pingTimeout"] == round(PING_TIMEOUT * 1000)
    assert handshake["maxPayload"] == MAX_PAYLOAD


async def test_polling_body_over_max_payload_is_refused_and_ends_the_session(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    status, _, _ = await post(http, endpoint(wire_server.url, sid=sid), b"4" + b"x" * MAX_PAYLOAD)
    assert status == 413
    assert_session_unknown(*(await get(http, endpoint(wire_server.url, sid=sid)))[:2])


async def test_websocket_message_over_max_payload_closes_with_1009(wire_server):
    ws = await open_websocket(wire_server.url)
    assert (await ws_recv(ws)).startswith("40{")
    await ws.send("4" + "x" * MAX_PAYLOAD)
    with pytest.raises(ConnectionClosed):
        while True:
            await ws_recv(ws)
    assert ws.close_code == 1009


# 2, 3. Requests Node refuses before any session sees them -------------------------------------------


@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=carrier-pigeon", "EIO=4&transport="])
async def test_unknown_transport(wire_server, http, query):
    status, body, content_type = await get(http, endpoint(wire_server.url, query))
    assert (status, json.loads(body)) == (400, {"code": 0, "message": "Transport unknown"})
    assert content_type.startswith("application/json")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_unsupported_handshake_method(wire_server, http, method):
    async with http.request(method, endpoint(wire_server.url)) as resp:
        assert (resp.status, json.loads(await resp.text())) == \
            (400, {"code": 2, "message": "Bad handshake method"})


async def test_unsupported_method_for_a_session(wire_server, http):
    """The one deliberate difference: Node answers 500 (blaming itself); this server 400."""
    sid, _ = await open_polling(http, wire_server.url)
    async with http.put(endpoint(wire_server.url, sid=sid), data=b"40", headers=TEXT) as resp:
        status, body = resp.status, await resp.text()
    if wire_server.kind == "node":
        assert (status, body) == (500, "")
    else:
        assert (status, json.loads(body)) == (400, {"code": 3, "message": "Bad request"})
    status, body, _ = await post(http, endpoint(wire_server.url, sid=sid), '42["echo","after"]')
    assert (status, body) == (200, "ok")  # either way the session goes on
    assert (await get(http, endpoint(wire_server.url, sid=sid)))[:2] == (200, '42["echoed","after"]')


@pytest.mark.parametrize("query", ["transport=polling", "EIO=3&transport=polling"])
async def test_unsupported_protocol_version(wire_server, http, query):
    status, body, _ = await get(http, endpoint(wire_server.url, query))
    assert (status, json.loads(body)) == (400, {"code": 5, "message": "Unsupported protocol version"})


async def test_unknown_sid(wire_server, http):
    assert_session_unknown(*(await get(http, endpoint(wire_server.url, sid="no-such-session")))[:2])


async def test_websocket_transport_without_upgrade(wire_server, http):
    status, body, _ = await get(http, endpoint(wire_server.url, "EIO=4&transport=websocket"))
    assert (status, json.loads(body)) == (400, {"code": 3, "message": "Bad request"})


async def test_preflight(wire_server, http):
    async with http.options(endpoint(wire_server.url), headers={"Origin": "null"}) as resp:
        assert resp.status == 204
        assert await resp.read() == b""


# 4. A polling session ends exactly pingInterval + pingTimeout after an unanswered ping -----------------


async def test_polling_session_ends_when_the_pong_is_late(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    opened = time.monotonic()
    deadline = PING_INTERVAL + PING_TIMEOUT  # the ping goes at 0.6 s; no pong by 1.0 s ends it
    await asyncio.sleep(max(0.0, PING_INTERVAL + 0.1 - (time.monotonic() - opened)))
    status, body, _ = await get(http, endpoint(wire_server.url, sid=sid))
    assert (status, body) == (200, "2")  # the ping, left unanswered
    await asyncio.sleep(max(0.0, deadline + 0.2 - (time.monotonic() - opened)))
    # Upstream engineio noticed only when its monitor passed, and answered this poll with 200.
    assert_session_unknown(*(await get(http, endpoint(wire_server.url, sid=sid)))[:2])


async def test_polling_session_lives_on_while_pongs_come(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    started = time.monotonic()
    pings = 0
    while time.monotonic() - started < 2 * (PING_INTERVAL + PING_TIMEOUT):
        status, body, _ = await get(http, endpoint(wire_server.url, sid=sid))
        assert (status, body) == (200, "2")
        pings += 1
        assert (await post(http, endpoint(wire_server.url, sid=sid), "3"))[0] == 200
    assert pings >= 2


# 5. The client's CLOSE over polling answers the waiting GET at once ------------------------------------


async def test_close_packet_wakes_the_waiting_poll(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    waiting = asyncio.ensure_future(get(http, endpoint(wire_server.url, sid=sid)))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert (await post(http, endpoint(wire_server.url, sid=sid), "1"))[:2] == (200, "ok")
    status, body, _ = await asyncio.wait_for(waiting, PING_INTERVAL)  # long before any ping
    assert (status, body) == (200, "6")
    assert_session_unknown(*(await get(http, endpoint(wire_server.url, sid=sid)))[:2])


# 6, 7, 8. The websocket upgrade -------------------------------------------------------------------------


async def upgrade(http, base: str, sid: str, waiting_poll: bool = True):
    """Probe and upgrade a polling session to a websocket; returns the websocket."""
    waiting = asyncio.ensure_future(get(http, endpoint(base, sid=sid))) if waiting_poll else None
    await asyncio.sleep(0.05)
    ws = await connect(endpoint(base, "EIO=4&transport=websocket", sid=sid, ws=True), ping_interval=None,
                       open_timeout=5, compression=None)
    await ws.send("2probe")
    assert await ws_recv(ws) == "3probe"
    if waiting is not None:
        assert (await waiting)[:2] == (200, "6")  # the waiting poll ends with a NOOP
    return ws


async def test_upgrade_leaves_no_noop_for_the_websocket(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    ws = await upgrade(http, wire_server.url, sid, waiting_poll=False)
    await ws.send("5")
    await ws.send('42["echo","first"]')
    # Upstream sent the NOOP meant for a waiting poll over the websocket first.
    assert await ws_recv(ws) == '42["echoed","first"]'
    await ws.close()


async def test_upgrade_ends_the_waiting_poll_only(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    ws = await upgrade(http, wire_server.url, sid, waiting_poll=True)
    await ws.send("5")
    await ws.send('42["echo","first"]')
    assert await ws_recv(ws) == '42["echoed","first"]'
    await ws.close()


async def test_poll_during_and_after_the_upgrade(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    ws = await upgrade(http, wire_server.url, sid)
    # Probed, not yet upgraded: polling still works, and the poll ends with a NOOP (Node: within
    # its 100 ms upgrade check).
    assert (await get(http, endpoint(wire_server.url, sid=sid)))[:2] == (200, "6")
    await ws.send("5")
    await ws.send('42["echo","upgraded"]')
    assert await ws_recv(ws) == '42["echoed","upgraded"]'
    status, body, _ = await get(http, endpoint(wire_server.url, sid=sid))
    assert (status, json.loads(body)) == (400, {"code": 3, "message": "Bad request"})
    status, body, _ = await post(http, endpoint(wire_server.url, sid=sid), '42["echo","late"]')
    assert (status, json.loads(body)) == (400, {"code": 3, "message": "Bad request"})
    await ws.send('42["echo","still"]')  # the refused polls did not end the session
    assert await ws_recv(ws) == '42["echoed","still"]'
    await ws.close()


async def test_second_websocket_is_accepted_then_closed(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    ws = await upgrade(http, wire_server.url, sid)
    await ws.send("5")
    second = await connect(endpoint(wire_server.url, "EIO=4&transport=websocket", sid=sid, ws=True),
                           ping_interval=None, open_timeout=5, compression=None)  # 101, not 400
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(second.recv(), 3)
    assert second.close_code == 1005  # a close frame without a status code
    await ws.send('42["echo","unharmed"]')
    assert await ws_recv(ws) == '42["echoed","unharmed"]'
    await ws.close()


# 9, 10. Polling POSTs and GETs ---------------------------------------------------------------------------


async def test_post_answer(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    status, body, content_type = await post(http, endpoint(wire_server.url, sid=sid), '42["echo",1]')
    assert (status, body) == (200, "ok")
    assert content_type.startswith("text/html")
    status, body, _ = await get(http, endpoint(wire_server.url, sid=sid))
    assert (status, body) == (200, '42["echoed",1]')


async def test_overlapping_polls_end_the_session(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    first = asyncio.ensure_future(get(http, endpoint(wire_server.url, sid=sid)))
    await asyncio.sleep(0.05)
    assert (await get(http, endpoint(wire_server.url, sid=sid)))[:2] == (400, "")
    assert (await first)[:2] == (200, "1")  # the waiting poll gets the CLOSE packet
    assert_session_unknown(*(await get(http, endpoint(wire_server.url, sid=sid)))[:2])


async def assert_session_over(http, base: str, sid: str) -> None:
    """The client learns the session is over: a CLOSE packet in the next poll, or a 400 for the sid."""
    status, body, _ = await get(http, endpoint(base, sid=sid), timeout=PING_INTERVAL + PING_TIMEOUT + 2)
    if status == 200:
        assert body.split(SEPARATOR)[-1] == "1", body
        status, body, _ = await get(http, endpoint(base, sid=sid))
    assert_session_unknown(status, body)


@pytest.mark.parametrize("body", ["9", "x", "", "b!!!", "4abc", "42{}", '42["echo",1]\x1e7'])
async def test_invalid_post_ends_the_session(wire_server, http, body):
    sid, _ = await open_polling(http, wire_server.url)
    assert (await post(http, endpoint(wire_server.url, sid=sid), body))[:2] == (200, "ok")
    await assert_session_over(http, wire_server.url, sid)


async def test_binary_post_body_ends_the_session(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url)
    status, _, _ = await post(http, endpoint(wire_server.url, sid=sid), b"40",
                              headers={"Content-Type": "application/octet-stream"})
    assert status == 400
    await assert_session_over(http, wire_server.url, sid)


# 11. Namespace CONNECT -------------------------------------------------------------------------------------


async def test_connect_answer_comes_before_what_the_hook_emits_websocket(wire_server):
    ws = await open_websocket(wire_server.url, auth='{"greet":true}')
    assert (await ws_recv(ws)).startswith('40{"sid":')
    assert await ws_recv(ws) == '42["welcome","hi"]'
    await ws.close()


async def test_connect_answer_comes_before_what_the_hook_emits_polling(wire_server, http):
    sid, _ = await open_polling(http, wire_server.url, join=False)
    assert (await post(http, endpoint(wire_server.url, sid=sid), '40{"greet":true}'))[0] == 200
    packets: list[str] = []
    while len([p for p in packets if p != "2"]) < 2:
        status, body, _ = await get(http, endpoint(wire_server.url, sid=sid))
        assert status == 200, body
        packets += body.split(SEPARATOR)
    packets = [p for p in packets if p != "2"]
    assert packets[0].startswith('40{"sid":') and packets[1] == '42["welcome","hi"]', packets


async def test_unknown_namespace(wire_server):
    ws = await open_websocket(wire_server.url)
    assert (await ws_recv(ws)).startswith("40{")
    await ws.send("40/nope,")
    assert await ws_recv(ws) == '44/nope,{"message":"Invalid namespace"}'
    await ws.send('42["echo","still connected"]')  # the session and its "/" stay
    assert await ws_recv(ws) == '42["echoed","still connected"]'
    await ws.close()


@pytest.mark.parametrize("auth, answer", [
    ('{"refuse":true}', {"message": "go away"}),
    ('{"refuse":true,"data":{"why":"test","n":[1,2]}}', {"message": "go away", "data": {"why": "test", "n": [1, 2]}}),
])
async def test_refused_connect(wire_server, auth, answer):
    ws = await open_websocket(wire_server.url, auth=auth)
    frame = await ws_recv(ws)
    assert frame.startswith("44") and json.loads(frame[2:]) == answer
    await ws.send("40")  # refused, the Engine.IO session stays: a plain connect still works
    assert (await ws_recv(ws)).startswith('40{"sid":')
    await ws.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_errors_and_order_with_the_official_client(wire_server, clients, transport):
    refused = await clients.js(wire_server.url, expect_ok=False, transports=[transport],
                               extra_opts={"auth": {"refuse": True, "data": {"why": "test"}}})
    (error,) = await refused.expect("connect_error")
    assert (error["message"], error["data"]) == ("go away", {"why": "test"})
    nowhere = await clients.js(wire_server.url + "/nope", expect_ok=False, transports=[transport])
    (error,) = await nowhere.expect("connect_error")
    assert (error["message"], error["data"]) == ("Invalid namespace", None)
    greeted = await clients.js(wire_server.url, transports=[transport], extra_opts={"auth": {"greet": True}})
    assert await greeted.expect("welcome") == ["hi"]
    # The client drops (or buffers) events that arrive before its connect: seen in order here.
    kinds = [name for name, _ in greeted.inbox._events if name in ("connect", "welcome")]
    assert kinds == ["connect", "welcome"]


# 12. Binary attachments ------------------------------------------------------------------------------------


async def test_binary_event_and_ack_raw(wire_server):
    ws = await open_websocket(wire_server.url)
    assert (await ws_recv(ws)).startswith("40{")
    await ws.send('451-7["echo",{"_placeholder":true,"num":0},"s"]')
    await ws.send(b"\x00\x01\xfe\xff")
    assert await ws_recv(ws) == '451-["echoed",{"_placeholder":true,"num":0},"s"]'
    assert await ws_recv(ws) == b"\x00\x01\xfe\xff"
    assert await ws_recv(ws) == '461-7[{"_placeholder":true,"num":0},"s"]'
    assert await ws_recv(ws) == b"\x00\x01\xfe\xff"
    await ws.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_binary_round_trip_with_the_official_client(wire_server, clients, transport):
    client = await clients.js(wire_server.url, transports=[transport], upgrade=False)
    blob = b"\x00\x01\xfe\xff"  # a Buffer in the JS client (tests/support/jsclient.mjs)
    nested = {"file": b"hello", "name": "hello.txt"}
    assert await client.call("echo", blob, "text", nested) == [blob, "text", nested]
    assert await client.expect("echoed") == [blob, "text", nested]

"""The Sanic binding: both transports and the upgrade, abrupt clients, client addresses, size limits, shutdown, origins."""

import asyncio
import json
import signal
import socket
import struct
import urllib.error
import urllib.request

import aiohttp
import pytest
import socketio
import websockets

from core.sio.binding import FRAMING_OVERHEAD, JSON_ESCAPE_FACTOR

# What a clean server log never contains.
DIRTY = ("Traceback", "write_eof", "Task was destroyed", "Task exception was never retrieved")

SHORT_PINGS = {"server": {"ping_interval": 1, "ping_timeout": 1}}


def assert_clean(logs: str) -> None:
    for bad in DIRTY:
        assert bad not in logs, f"{bad!r} in server log:\n{logs}"


def http_get(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def handshake_url(base: str) -> str:
    return base + "/socket.io/?EIO=4&transport=polling"


def reset(sock: socket.socket) -> None:
    """Close a socket with a TCP RST, the way a crashed peer or a pulled cable ends it."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def close_fast(*python_clients) -> None:
    """Disconnect python clients without waiting for a pending long-poll.

    python-engineio's client waits for its open GET to return (up to ping_interval +
    ping_timeout) on a polling disconnect; it still sends the close packet with abort=True.
    """
    for client in python_clients:
        await client.sio.eio.disconnect(abort=True)


async def observer_in_lobby(clients, url):
    """A client in room `lobby` that sees the enter/leave notices of the others."""
    watcher = await clients.python(url)
    assert await watcher.call("entry", "lobby", "watcher") == {"ok": True}
    await watcher.expect("entryok")  # its own welcome
    return watcher


async def assert_broadcast_round_trip(sender, receiver, text="ping"):
    assert await sender.call("broadcast", text) == {"ok": True}
    assert await receiver.expect("receiveAll") == [text]


# Transports with the official JS client ------------------------------------------------------


async def test_js_client_over_polling_only(server, clients):
    bob = await clients.js(server.url, transports=["polling"])
    assert bob.transport == "polling"
    await assert_broadcast_round_trip(bob, bob, "over polling")
    assert bob.upgraded_to is None


async def test_js_client_over_websocket_only(server, clients):
    bob = await clients.js(server.url, transports=["websocket"])
    assert bob.transport == "websocket"
    await assert_broadcast_round_trip(bob, bob, "over websocket")


async def test_js_client_stays_on_polling_without_upgrade(server, clients):
    bob = await clients.js(server.url, transports=["polling", "websocket"], upgrade=False)
    assert bob.transport == "polling"
    await bob.assert_none("upgrade", within=0.5)
    await assert_broadcast_round_trip(bob, bob, "no upgrade")


async def test_js_client_upgrades_from_polling_to_websocket(server, clients):
    # The client opens on polling (transports[0]); the upgrade may finish before or after "connect".
    bob = await clients.js(server.url, transports=["polling", "websocket"], upgrade=True)
    if bob.transport == "polling":
        await bob.expect("upgrade")
        assert bob.upgraded_to == "websocket"
    assert bob.transport == "websocket"
    alice = await clients.python(server.url)
    assert await bob.call("broadcast", "after upgrade") == {"ok": True}
    assert await alice.expect("receiveAll") == ["after upgrade"]
    assert await bob.expect("receiveAll") == ["after upgrade"]


async def test_polling_refused_when_only_websocket_is_configured(module_server, clients):
    proc = module_server({"server": {"transports": ["websocket"]}})
    assert http_get(handshake_url(proc.url)) == 400
    bob = await clients.js(proc.url, transports=["websocket"])
    await assert_broadcast_round_trip(bob, bob, "websocket only")


# Clients vanishing abruptly -----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_killed_js_client_leaves_clean_logs(start_server, clients, transport):
    proc = start_server(overrides=SHORT_PINGS)
    watcher = await observer_in_lobby(clients, proc.url)
    victim = await clients.js(proc.url, transports=[transport])
    assert await victim.call("entry", "lobby", "victim") == {"ok": True}
    assert await watcher.expect("entryok") == ["victim entered the room"]

    victim.proc.kill()  # SIGKILL: no close frame, no goodbye
    assert await watcher.expect("entryok", timeout=8) == ["victim left the room"]
    await assert_broadcast_round_trip(watcher, watcher)
    await asyncio.to_thread(proc.stop)  # keep the loop free so clients see the close
    assert_clean(proc.logs())


async def test_raw_websocket_reset_mid_session_leaves_clean_logs(start_server, clients):
    proc = start_server(overrides=SHORT_PINGS)
    watcher = await observer_in_lobby(clients, proc.url)
    ws = await websockets.connect(f"ws://127.0.0.1:{proc.port}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.recv()).startswith("0{")
    await ws.send("40")
    assert (await ws.recv()).startswith("40{")
    await ws.send("42" + json.dumps(["entry", "lobby", "raw"]))
    assert await watcher.expect("entryok") == ["raw entered the room"]
    # Half a frame, then a reset.
    ws.transport.write(b"\x81\xfe\x10\x00")
    reset(ws.transport.get_extra_info("socket").dup())
    ws.transport.abort()

    assert await watcher.expect("entryok", timeout=8) == ["raw left the room"]
    await assert_broadcast_round_trip(watcher, watcher)
    await asyncio.to_thread(proc.stop)  # keep the loop free so clients see the close
    assert_clean(proc.logs())


async def test_raw_polling_post_cut_mid_body_leaves_clean_logs(start_server, clients):
    proc = start_server(overrides=SHORT_PINGS)
    watcher = await observer_in_lobby(clients, proc.url)
    async with aiohttp.ClientSession() as http:
        base = f"{proc.url}/socket.io/?EIO=4&transport=polling"
        async with http.get(base) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        base += f"&sid={sid}"
        async with http.post(base, data="40") as resp:
            assert resp.status == 200
        async with http.get(base) as resp:
            assert (await resp.text()).startswith("40{")
        async with http.post(base, data='42["entry","lobby","rawpoll"]') as resp:
            assert resp.status == 200
        assert await watcher.expect("entryok") == ["rawpoll entered the room"]

    # A POST announcing 10 kB, cut after a few bytes with a reset.
    with socket.create_connection(("127.0.0.1", proc.port)) as sock:
        sock.sendall(f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{proc.port}\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 10000\r\n\r\n42[\"broadcast\",\"".encode())
        await asyncio.sleep(0.2)
        reset(sock.dup())

    assert await watcher.expect("entryok", timeout=8) == ["rawpoll left the room"]
    await assert_broadcast_round_trip(watcher, watcher)
    await asyncio.to_thread(proc.stop)  # keep the loop free so clients see the close
    assert_clean(proc.logs())


# The real client address ------------------------------------------------------------------------------


async def recorded_addresses(url: str, text: str) -> list[str]:
    """The addresses chat_log recorded for the broadcast of `text` (events arrive asynchronously)."""
    recorded = []
    for _ in range(50):
        with urllib.request.urlopen(url + "/chatlog", timeout=5) as resp:
            recorded = [e["address"] for e in json.load(resp)["recent"] if e.get("args") == [text]]
        if recorded:
            break
        await asyncio.sleep(0.1)
    return recorded


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_handlers_see_the_real_client_address(server, clients, transport):
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        alice = await clients.python(server.url, transports=[transport], http_session=http)
        text = f"from 127.0.0.2 over {transport}"
        assert await alice.call("broadcast", text) == {"ok": True}
        await alice.expect("receiveAll")
        addresses = await recorded_addresses(server.url, text)
        await close_fast(alice)
    assert addresses == ["127.0.0.2"]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_forwarding_headers_from_a_client_are_not_trusted(server, clients, transport):
    fake = {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6"}
    alice = await clients.python(server.url, transports=[transport], headers=fake)
    text = f"spoofed over {transport}"
    assert await alice.call("broadcast", text) == {"ok": True}
    addresses = await recorded_addresses(server.url, text)
    await close_fast(alice)
    assert addresses == ["127.0.0.1"]


# One message size limit for both transports -----------------------------------------------------------------


MAX_MESSAGE_SIZE = 2_000_000
# What the transports accept: room for the worst-case JSON escaping of a max-size value, plus framing.
TRANSPORT_LIMIT = MAX_MESSAGE_SIZE * JSON_ESCAPE_FACTOR + FRAMING_OVERHEAD


@pytest.fixture(scope="module")
def big_server(module_server):
    return module_server({"server": {"max_message_size": MAX_MESSAGE_SIZE}})


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_message_above_sanic_default_limit_round_trips(big_server, clients, transport):
    big = "x" * 1_500_000  # more than Sanic's 1 MiB default websocket frame limit
    alice = await clients.python(big_server.url, transports=[transport])
    bob = await clients.python(big_server.url, transports=[transport])
    assert await alice.call("broadcast", big, timeout=15) == {"ok": True}
    assert await bob.expect("receiveAll", timeout=15) == [big]
    await close_fast(alice, bob)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_oversized_message_disconnects_only_the_sender(big_server, clients, transport):
    alice = await clients.python(big_server.url, transports=["websocket"])
    carol = await clients.python(big_server.url, transports=["polling"])
    mallory = await clients.python(big_server.url, transports=[transport])
    await mallory.emit("broadcast", "z" * (TRANSPORT_LIMIT + 1_000_000))
    await mallory.expect("disconnect", timeout=10)
    await alice.assert_none("receiveAll", within=0.3)
    await assert_broadcast_round_trip(alice, carol, "still here")
    assert await alice.expect("receiveAll") == ["still here"]
    assert await carol.call("broadcast", "me too") == {"ok": True}
    assert await alice.expect("receiveAll") == ["me too"]
    await close_fast(alice, carol, mallory)
    assert_clean(big_server.logs())


async def test_message_just_above_the_limit_is_refused_with_an_ack(big_server, clients):
    alice = await clients.python(big_server.url)
    ack = await alice.call("broadcast", "z" * (MAX_MESSAGE_SIZE + 10), timeout=15)
    assert ack["ok"] is False and "too large" in ack["error"]
    assert alice.sio.connected


# Shutdown -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_stops_server_quickly_and_cleanly(start_server, clients, sig):
    proc = start_server()
    on_ws = await clients.js(proc.url, transports=["websocket"])
    on_polling = await clients.js(proc.url, transports=["polling"])
    py_ws = await clients.python(proc.url, transports=["websocket"])
    py_polling = await clients.python(proc.url, transports=["polling"])
    await assert_broadcast_round_trip(py_ws, on_polling)

    seconds = await asyncio.to_thread(proc.stop, sig)

    assert proc.proc.returncode is not None
    print(f"exited {seconds:.2f}s after {sig.name}")
    assert seconds < 5, f"took {seconds:.1f}s to exit"
    for client in (on_ws, on_polling, py_ws, py_polling):
        await client.expect("disconnect", timeout=5)
    logs = proc.logs()
    assert "told 4 clients the server is stopping" in logs
    assert_clean(logs)


# Origins ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(module_server):
    return module_server({"server": {"cors_allowed_origins": []}})


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_disallowed_origin_cannot_connect(strict_server, clients, transport):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.python(strict_server.url, transports=[transport],
                             headers={"Origin": "http://evil.example"})


def test_disallowed_origin_polling_handshake_is_400(strict_server):
    assert http_get(handshake_url(strict_server.url), {"Origin": "http://evil.example"}) == 400
    assert "refused connection from origin 'http://evil.example'" in strict_server.logs()


def test_null_origin_refused_when_not_listed(strict_server):
    assert http_get(handshake_url(strict_server.url), {"Origin": "null"}) == 400


def test_same_origin_is_accepted(strict_server):
    assert http_get(handshake_url(strict_server.url), {"Origin": strict_server.url}) == 200


async def test_same_origin_client_connects(strict_server, clients):
    alice = await clients.python(strict_server.url, headers={"Origin": strict_server.url})
    await assert_broadcast_round_trip(alice, alice)


def test_null_origin_is_accepted_by_default(server):
    assert http_get(handshake_url(server.url), {"Origin": "null"}) == 200


def test_null_origin_gets_cors_headers(server):
    # What lets a standalone page opened from file:// read the polling responses.
    request = urllib.request.Request(handshake_url(server.url), headers={"Origin": "null"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "null"
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"


def test_own_origin_is_accepted_by_default(server):
    # public_url is unset by default: a page is served from, and connects to, the server's own origin.
    assert http_get(handshake_url(server.url), {"Origin": server.url}) == 200
    assert http_get(handshake_url(server.url), {"Origin": "http://localhost:3000"}) == 400


def test_disallowed_origin_is_refused_by_default(server):
    assert http_get(handshake_url(server.url), {"Origin": "http://evil.example"}) == 400


async def test_stop_log_does_not_count_polling_sessions_whose_client_is_gone(start_server, clients):
    proc = start_server()
    alive = await clients.python(proc.url, transports=["websocket"])
    polling = await clients.js(proc.url, transports=["polling"])
    await assert_broadcast_round_trip(alive, polling)
    # A tab closed mid-session: a handshake, then no request ever again.
    with urllib.request.urlopen(handshake_url(proc.url), timeout=5) as resp:
        assert resp.status == 200
    await asyncio.sleep(1.5)  # longer than any live client goes without a poll
    await asyncio.to_thread(proc.stop)
    assert ("told 2 clients the server is stopping (1 polling session without a waiting request "
            "closed: their clients had gone, or hear it on their next poll)") in proc.logs()

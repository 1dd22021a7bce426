"""Attacks on the transport, each bounded, against a real server over raw sockets on 127.0.0.1.

Every test asserts three things: the attacker is cut off within the configured time, the
server's RSS stays under a stated bound (BUDGET per attacker plus MARGIN over its RSS before
the attack), and a bystander keeps chatting, the median of its round trips under 100 ms (a
correctness bound for a starving server, which misses it on every try, not a timing goal).
Attackers run in threads (tests/support/attack.py) so their floods never starve the test's
own event loop, where the bystander's client runs.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import threading
import time

import pytest

from tests.support.attack import (OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, BlockingWebSocket, Sampler,
                                  client_frame)
from tests.support.raw import LogMark, event_packet, health, wait_until

BUDGET = 1024 * 1024  # server.connection_budget of this module's server
MARGIN = 24 * 1024 * 1024  # bytes the server may grow by besides the attackers' budgets
SLOW_CLIENT_TIMEOUT = 1.0
HANDSHAKE_TIMEOUT = 1.0
CLOSE_TIMEOUT = 1.0
MAX_FRAGMENTS = 64
RTT_BOUND = 0.1
SLACK = 2.0  # seconds on top of a configured time: detection, a loaded 2-core machine
# Seconds the kernel's socket buffers take to fill at the slow-reader test's 1 MB/s before the
# server's own backlog grows at all (loopback buffers autotune up to about 4 MB).
KERNEL_FILL = 4.0


@pytest.fixture(scope="module")
def target(module_server):
    return module_server({"server": {
        "max_message_size": 4096,
        "connection_budget": BUDGET,
        "slow_client_timeout": SLOW_CLIENT_TIMEOUT,
        "handshake_timeout": HANDSHAKE_TIMEOUT,
        "close_timeout": CLOSE_TIMEOUT,
        "max_fragments": MAX_FRAGMENTS,
        "max_connections_per_address": 1000,
        # The broadcaster of the slow-reader test sends hundreds of messages a second.
        "rate_limit": {"messages_per_second": 2000, "burst": 2000, "disconnect_after": 200},
    }})


@pytest.fixture
async def bystander(target, clients):
    client = await clients.python(target.url, transports=["websocket"])
    assert await client.call("broadcast", "hello") == {"ok": True}
    return client


def rss_bytes(server) -> int:
    return health(server.url)["rss_kib"] * 1024


async def round_trips(client, count: int = 5) -> list[float]:
    """Seconds each of `count` acknowledged broadcasts took."""
    times = []
    for i in range(count):
        started = time.monotonic()
        assert await client.call("broadcast", f"rtt {i}") == {"ok": True}
        times.append(time.monotonic() - started)
        await asyncio.sleep(0.05)
    return times


def assert_bystander_fine(times: list[float]) -> None:
    assert statistics.median(times) < RTT_BOUND, times


def in_thread(target, *args) -> tuple[threading.Thread, list]:
    """Run target(*args) in a thread; the list gets its result (or the exception it raised)."""
    result: list = []

    def run():
        try:
            result.append(target(*args))
        except Exception as exc:  # shown by the assertion that reads it
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


async def joined(thread: threading.Thread) -> None:
    await asyncio.to_thread(thread.join)


# 1. Ping flood from a client that never reads ----------------------------------------------------

async def test_ping_flood_from_a_non_reader_is_cut_off(target, bystander):
    mark = LogMark(target)
    before = rss_bytes(target)
    attacker = BlockingWebSocket.open(target.port, rcvbuf=4096)
    pings = client_frame(OP_PING, b"x" * 125) * 512  # 66 KB of pings per send
    with Sampler(lambda: rss_bytes(target)) as rss:
        thread, cut_after = in_thread(attacker.flood, pings, 10.0)
        times = await round_trips(bystander)
        await joined(thread)
    attacker.close()
    # Beyond the rate limit's burst pings go unanswered; 200 in a row close the connection (1008).
    assert cut_after[0] is not None and cut_after[0] < CLOSE_TIMEOUT + SLACK, cut_after
    assert rss.peak < before + BUDGET + MARGIN, (before, rss.peak)
    assert_bystander_fine(times)
    await mark.wait_for("pings/pongs over the rate limit")
    assert health(target.url)["transport"]["control_flood_closed"] >= 1


async def test_pings_within_the_rate_from_a_non_reader_get_bounded_pongs(target, bystander):
    """Pings slow enough for the rate limit: the pongs a non-reader leaves unread stay bounded."""
    before = rss_bytes(target)
    attacker = BlockingWebSocket.open(target.port, rcvbuf=4096)
    ping = client_frame(OP_PING, b"y" * 125)
    with Sampler(lambda: rss_bytes(target)) as rss:
        for _ in range(30):  # 1,500 pings/s, under this server's 2,000/s
            for _ in range(50):
                attacker.send_raw(ping)
            await asyncio.sleep(0.033)
        times = await round_trips(bystander)
    attacker.close()
    assert rss.peak < before + BUDGET + MARGIN, (before, rss.peak)
    assert_bystander_fine(times)


# 2. A slow reader among fast ones -----------------------------------------------------------------

def broadcast(port: int, room: str, stop: threading.Event, per_second: int) -> int:
    """Post 1 KB messages to a room until stopped; how many were sent."""
    sender = BlockingWebSocket.open(target_port := port)
    sender.send(OP_TEXT, event_packet("entry", room, "sender"))
    frame = client_frame(OP_TEXT, event_packet("groupmsg", room, "m" * 1000))
    sent = 0
    started = time.monotonic()
    while not stop.is_set():
        for _ in range(per_second // 50):
            sender.send_raw(frame)
            sent += 1
        pause = started + sent / per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sender.sock.settimeout(0)
        try:  # acks and the room's own messages: read and drop, so the sender is no slow reader
            while sender.sock.recv(1 << 20):
                pass
        except (BlockingIOError, OSError):
            pass
        sender.sock.settimeout(5)
    sender.close()
    assert target_port
    return sent


def read_all(client: BlockingWebSocket, stop: threading.Event) -> int:
    """Read and count frames until stopped (a fast member of the room)."""
    client.sock.settimeout(0.2)
    count = 0
    while not stop.is_set():
        try:
            client.read()
            count += 1
        except TimeoutError:
            continue
        except OSError:
            break
    return count


async def test_slow_reader_is_cut_off_and_the_others_keep_up(target, bystander):
    mark = LogMark(target)
    cut_before = health(target.url)["transport"]["slow_clients_cut"]
    before = rss_bytes(target)
    room = "flood-room"
    slow = BlockingWebSocket.open(target.port, rcvbuf=4096)
    slow.send(OP_TEXT, event_packet("entry", room, "slow"))
    fast = BlockingWebSocket.open(target.port)
    fast.send(OP_TEXT, event_packet("entry", room, "fast"))
    await asyncio.sleep(0.2)
    stop = threading.Event()
    with Sampler(lambda: rss_bytes(target)) as rss:
        sender, sent = in_thread(broadcast, target.port, room, stop, 1000)  # 1 MB/s into the room
        reader, received = in_thread(read_all, fast, stop)
        cut_after = await asyncio.to_thread(slow.wait_cut, SLOW_CLIENT_TIMEOUT + KERNEL_FILL + 8)
        times = await round_trips(bystander)
        stop.set()
        await joined(sender)
        await joined(reader)
    slow.close()
    fast.close()
    # Past the kernel's buffers, the high water mark fills in half a second; then the clock runs
    # (or the whole budget fills first, which cuts at once).
    assert cut_after is not None and cut_after < KERNEL_FILL + 0.5 + SLOW_CLIENT_TIMEOUT + SLACK, cut_after
    assert rss.peak < before + BUDGET + MARGIN, (before, rss.peak)
    assert_bystander_fine(times)
    assert received[0] >= sent[0] * 0.9, (sent, received)  # the fast member kept getting the room's messages
    lines = await mark.wait_for("disconnecting slow client")
    assert len(lines) == 1, lines
    assert health(target.url)["transport"]["slow_clients_cut"] == cut_before + 1
    print(f"\nslow reader cut after {cut_after:.2f}s; rss {before // 1024} -> peak {rss.peak // 1024} KiB; "
          f"{sent[0]} sent, {received[0]} read by the fast member; bystander {max(times) * 1000:.1f} ms max")


# 3. Fragments ----------------------------------------------------------------------------------------

async def test_fragment_flood_is_closed_at_the_fragment_limit(target, bystander):
    refused_before = health(target.url)["transport"]["oversized_messages"]
    before = rss_bytes(target)
    attacker = BlockingWebSocket.open(target.port)
    attacker.send(OP_TEXT, b"4", fin=False)
    one_byte = client_frame(OP_CONT, b"2", fin=False)
    with Sampler(lambda: rss_bytes(target)) as rss:
        thread, cut_after = in_thread(attacker.flood, one_byte * 1000, 10.0)
        times = await round_trips(bystander)
        await joined(thread)
    attacker.close()
    assert cut_after[0] is not None and cut_after[0] < SLACK, cut_after
    assert health(target.url)["transport"]["oversized_messages"] == refused_before + 1  # closed with 1009
    assert rss.peak < before + BUDGET + MARGIN
    assert_bystander_fine(times)


async def test_fragments_up_to_the_limit_make_one_message(target, bystander):
    client = BlockingWebSocket.open(target.port)
    pieces = ["42[", '"broadcast",', '"in pieces"', "]"] + [""] * (MAX_FRAGMENTS - 5) + ["\u0000"[:0]]
    for i, piece in enumerate(pieces):
        client.send(OP_TEXT if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)
    while True:
        opcode, payload = await asyncio.to_thread(client.read)
        if payload == b'42["receiveAll","in pieces"]':
            break
    client.close()


@pytest.mark.parametrize("announced", [BUDGET + 1, 2 ** 40, 2 ** 63 - 1])
async def test_continuation_over_the_budget_is_refused_at_its_header(target, bystander, announced):
    attacker = BlockingWebSocket.open(target.port)
    attacker.send(OP_TEXT, b"4", fin=False)
    # Only the header: a server that waited for the payload would never answer.
    attacker.send_raw(struct.pack("!BBQ", 0x80 | OP_CONT, 0x80 | 127, announced) + b"\0\0\0\0")
    assert await asyncio.to_thread(attacker.close_code) == 1009
    attacker.close()
    assert_bystander_fine(await round_trips(bystander, 3))


async def test_64_bit_length_with_the_high_bit_is_a_protocol_error(target, bystander):
    attacker = BlockingWebSocket.open(target.port)
    attacker.send_raw(struct.pack("!BBQ", 0x80 | OP_TEXT, 0x80 | 127, 2 ** 63 + 5) + b"\0\0\0\0")
    assert await asyncio.to_thread(attacker.close_code) == 1002
    attacker.close()


async def test_invalid_utf8_fails_at_its_fragment(target, bystander):
    attacker = BlockingWebSocket.open(target.port)
    attacker.send(OP_TEXT, b'42["broadcast","\xff', fin=False)  # the message never completes
    assert await asyncio.to_thread(attacker.close_code) == 1007
    attacker.close()


async def test_replies_to_messages_before_a_protocol_error_are_sent(target, bystander):
    attacker = BlockingWebSocket.open(target.port)
    unmasked = struct.pack("!BB", 0x80 | OP_TEXT, 2) + b"40"
    attacker.send_raw(client_frame(OP_TEXT, event_packet("broadcast", "last words", ack_id=7)) + unmasked)
    frames = []
    while True:
        opcode, payload = await asyncio.to_thread(attacker.read)
        frames.append((opcode, payload))
        if opcode == OP_CLOSE:
            break
    attacker.close()
    assert (OP_TEXT, b'437[{"ok":true}]') in frames, frames
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1002


# 4. Deadlines ---------------------------------------------------------------------------------------

def trickle_head(port: int, seconds: float) -> float | None:
    """Send an HTTP request head one line every 0.2 s; seconds until the server closed it."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(0.2)
    started = time.monotonic()
    lines = [b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(1000)]
    try:
        for line in lines:
            if time.monotonic() - started > seconds:
                return None
            try:
                sock.sendall(line)
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - started
            # An answer (408) came: the close follows.
            try:
                while sock.recv(4096):
                    pass
            except OSError:
                pass
            return time.monotonic() - started
    finally:
        sock.close()
    return None


async def test_slowloris_heads_are_cut_at_the_handshake_timeout(target, bystander):
    timeouts_before = health(target.url)["transport"]["handshake_timeouts"]
    before = rss_bytes(target)
    with Sampler(lambda: rss_bytes(target)) as rss:
        threads = [in_thread(trickle_head, target.port, 10.0) for _ in range(20)]
        times = await round_trips(bystander)
        for thread, _ in threads:
            await joined(thread)
    cut = [result[0] for _, result in threads]
    # Sanic checks its timers every half REQUEST_TIMEOUT.
    assert all(c is not None and c < HANDSHAKE_TIMEOUT * 1.5 + SLACK for c in cut), cut
    assert rss.peak < before + MARGIN
    assert_bystander_fine(times)
    assert health(target.url)["transport"]["handshake_timeouts"] == timeouts_before + len(threads)


async def test_upgrade_without_the_probe_is_closed_at_the_handshake_timeout(target, bystander):
    import aiohttp

    from tests.support.raw import RawPolling

    async with aiohttp.ClientSession() as http:
        poll = await RawPolling.open(http, target.url)
        upgrader, head = await asyncio.to_thread(
            BlockingWebSocket.connect, target.port, None, f"EIO=4&transport=websocket&sid={poll.sid}")
        assert head.startswith(b"HTTP/1.1 101"), head
        started = time.monotonic()
        code = await asyncio.to_thread(upgrader.close_code)  # nothing sent: no probe
        elapsed = time.monotonic() - started
        upgrader.close()
    assert code is not None and elapsed < HANDSHAKE_TIMEOUT + SLACK, (code, elapsed)
    assert_bystander_fine(await round_trips(bystander, 3))
    assert health(target.url)["transport"]["probe_timeouts"] >= 1


async def test_peer_that_never_answers_the_close_is_dropped_after_the_close_timeout(target, bystander):
    attacker = BlockingWebSocket.open(target.port, rcvbuf=4096)
    attacker.send(OP_TEXT, "1")  # Engine.IO close: the server ends the session and starts the close
    cut_after = await asyncio.to_thread(attacker.wait_cut, CLOSE_TIMEOUT * 2 + SLACK)
    attacker.close()
    assert cut_after is not None and cut_after < CLOSE_TIMEOUT + SLACK, cut_after
    assert_bystander_fine(await round_trips(bystander, 3))


# 5. Handshake strictness, on the wire ------------------------------------------------------------------

def raw_upgrade(port: int, request_line: str, extra: str = "") -> bytes:
    """The head of the server's answer to an upgrade request written by hand."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((f"{request_line}\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.parametrize("request_line, extra, status", [
    ("GET /socket.io/?EIO=4&transport=websocket HTTP/1.0", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"505"),
    ("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", b"400"),
], ids=["http-1.0", "duplicate-key"])
async def test_upgrades_websockets_would_refuse_are_refused_without_a_session(target, request_line, extra, status):
    sessions = health(target.url)["sessions"]
    answer = await asyncio.to_thread(raw_upgrade, target.port, request_line, extra)
    assert answer.split(b"\r\n")[0].split(b" ")[1] == status, answer
    assert health(target.url)["sessions"] <= sessions


async def test_a_polling_client_that_never_polls_is_cut_off_at_its_budget(target, bystander):
    import aiohttp

    from tests.support.raw import RawPolling

    cut_before = health(target.url)["transport"]["slow_clients_cut"]
    room = "polling-flood"
    async with aiohttp.ClientSession() as http:
        idle = await RawPolling.open(http, target.url)
        assert await idle.call("entry", room, "idle") == [{"ok": True}]
        stop = threading.Event()
        sender, sent = in_thread(broadcast, target.port, room, stop, 1000)
        try:
            await wait_until(lambda: health(target.url)["transport"]["slow_clients_cut"] > cut_before,
                             timeout=SLOW_CLIENT_TIMEOUT + 2 + SLACK, what="the idle polling client cut off")
        finally:
            stop.set()
            await joined(sender)
        status, _ = await idle.get_raw(timeout=5)
        assert status == 400  # its session is gone
    assert_bystander_fine(await round_trips(bystander, 3))

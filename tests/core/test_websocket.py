"""core.transport.websocket on the wire: the RFC 6455 handshake, frames split and batched, control frames, closes."""

import asyncio
import base64
import os
import struct
import time

import pytest

from core.protocol.frames import apply_mask_py
from core.protocol.handshake import accept_key
from tests.support.raw import LogMark, event_packet, health, parse_ack, wait_until

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes | str, fin: bool = True, masked: bool = True,
                 rsv: int = 0, claimed_size: int | None = None) -> bytes:
    """A frame as a client sends it (masked), or deliberately wrong when asked."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    size = len(payload) if claimed_size is None else claimed_size
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WireClient:
    """A websocket client written against the RFC, byte by byte, over a plain TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def handshake(cls, base: str, headers: dict | None = None) -> tuple["WireClient", int, dict]:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        fields = {"Host": f"{host}:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
                  "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                  "Sec-WebSocket-Version": "13"}
        fields.update(headers or {})
        request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in fields.items() if v is not None) + "\r\n"
        writer.write(request.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = head.decode().split("\r\n")
        response = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines if line)}
        response["sent-key"] = fields["Sec-WebSocket-Key"]
        return cls(reader, writer), int(status_line.split()[1]), response

    @classmethod
    async def open(cls, base: str) -> "WireClient":
        """Handshake, then join the default namespace."""
        client, status, _ = await cls.handshake(base)
        assert status == 101
        opcode, payload = await client.read()
        assert opcode == OP_TEXT and payload.startswith(b"0{"), payload
        client.send(client_frame(OP_TEXT, "40"))
        assert (await client.next_text()).startswith("40{")
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame; server frames are never masked."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        assert not second & 0x80, "a server frame is masked"
        assert first & 0x80 and not first & 0x70, f"unexpected frame header {first:#x}"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await asyncio.wait_for(self.reader.readexactly(size), timeout)

    async def next_text(self, timeout: float = 5.0) -> str:
        """The next text message, answering Engine.IO pings on the way."""
        while True:
            opcode, payload = await self.read(timeout)
            if opcode == OP_TEXT and payload == b"2":
                self.send(client_frame(OP_TEXT, "3"))
                continue
            assert opcode == OP_TEXT, (opcode, payload)
            return payload.decode("utf-8")

    async def ack(self, ack_id: int, timeout: float = 5.0) -> list:
        while True:
            args = parse_ack(await self.next_text(timeout), ack_id)
            if args is not None:
                return args

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """The code of the server's close frame (skipping messages, not answering pings), then EOF.

        Answers the close frame as a client does, so the server need not wait for it.
        """
        code = None
        while True:
            try:
                opcode, payload = await self.read(timeout)
            except asyncio.IncompleteReadError:
                return code
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.send(client_frame(OP_CLOSE, payload[:2]))
                try:
                    assert await asyncio.wait_for(self.reader.read(), timeout) == b"", "data after close"
                except ConnectionResetError:
                    pass  # the server had closed already (a protocol error): our reply met a reset
                return code

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def wire(server):
    opened: list[WireClient] = []

    async def open_client() -> WireClient:
        client = await WireClient.open(server.url)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def chat(text: str, ack_id: int) -> bytes:
    return client_frame(OP_TEXT, event_packet("broadcast", text, ack_id=ack_id))


@pytest.mark.parametrize("size", range(0, 41))
def test_pure_python_unmasking_matches_the_c_one(size):
    from websockets.speedups import apply_mask

    data, mask = os.urandom(size), os.urandom(4)
    assert apply_mask_py(data, mask) == apply_mask(data, mask)
    assert apply_mask_py(apply_mask_py(data, mask), mask) == data


def test_accept_key_is_the_one_from_rfc_6455():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_handshake_answers_101_with_the_accept_key_and_no_extension(server):
    client, status, response = await WireClient.handshake(
        server.url, {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    try:
        assert status == 101
        assert response["upgrade"].lower() == "websocket"
        assert response["sec-websocket-accept"] == accept_key(response["sent-key"])
        assert "sec-websocket-extensions" not in response  # compression stays off
    finally:
        client.close()


@pytest.mark.parametrize("headers, expected", [
    ({"Sec-WebSocket-Key": None}, 400),
    ({"Sec-WebSocket-Key": "not base64!"}, 400),
    ({"Sec-WebSocket-Key": base64.b64encode(b"short").decode()}, 400),
    ({"Connection": None}, 400),
    ({"Connection": "keep-alive"}, 400),
    ({"Sec-WebSocket-Version": "8"}, 426),
], ids=["no-key", "key-not-base64", "key-not-16-bytes", "no-connection", "connection-keep-alive", "version-8"])
async def test_invalid_handshake_is_refused_and_leaves_no_session(server, headers, expected):
    before = health(server.url)["sessions"]
    client, status, response = await WireClient.handshake(server.url, headers)
    client.close()
    assert status == expected
    if expected == 426:  # RFC 6455 4.4: say which version the server speaks
        assert response["sec-websocket-version"] == "13"
    await wait_until(lambda: health(server.url)["sessions"] <= before, timeout=3, what="no session left")


async def test_message_in_fragments_with_a_ping_between_is_one_message(wire):
    client = await wire()
    packet = event_packet("broadcast", "in three parts", ack_id=1).encode()
    client.send(client_frame(OP_TEXT, packet[:5], fin=False))
    client.send(client_frame(OP_PING, b"are you there"))
    client.send(client_frame(OP_CONT, packet[5:12], fin=False))
    client.send(client_frame(OP_CONT, packet[12:]))
    assert await client.read() == (OP_PONG, b"are you there")
    assert (await client.ack(1))[0]["ok"] is True


async def test_frames_split_at_every_byte_are_reassembled(wire):
    client = await wire()
    for byte in chat("one byte at a time", 1):
        client.send(bytes([byte]))
        await client.writer.drain()
    assert (await client.ack(1))[0]["ok"] is True


async def test_many_frames_in_one_write_are_handled_in_order(start_server):
    """More messages at once than the inbox holds: reading pauses, resumes, and nothing is lost."""
    srv = start_server({"server": {"rate_limit": {"messages_per_second": 10000, "burst": 10000}}})
    client = await WireClient.open(srv.url)
    client.send(b"".join(chat(f"burst {n}", n) for n in range(1, 301)))
    acked = []
    while len(acked) < 300:
        text = await client.next_text()
        if text.startswith("43"):
            acked.append(int(text[2:text.index("[")]))
    client.close()
    assert acked == list(range(1, 301))


async def test_utf8_text_split_inside_a_character_is_decoded_whole(wire):
    client = await wire()
    packet = '421["broadcast","naïve café ✓"]'.encode("utf-8")
    cut = packet.index("ï".encode()) + 1  # inside the two bytes of ï
    client.send(client_frame(OP_TEXT, packet[:cut], fin=False))
    client.send(client_frame(OP_CONT, packet[cut:]))
    assert (await client.ack(1))[0]["ok"] is True


async def test_close_from_the_client_is_echoed_and_the_session_ends(server, wire):
    client = await wire()
    sessions = health(server.url)["sessions"]
    client.send(client_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye"))
    assert await client.closed_with() == 1000
    await wait_until(lambda: health(server.url)["sessions"] <= sessions - 1, timeout=3, what="session ended")


@pytest.mark.parametrize("frame, code", [
    (client_frame(OP_TEXT, event_packet("broadcast", "x"), masked=False), 1002),
    (client_frame(OP_TEXT, event_packet("broadcast", "x"), rsv=0x40), 1002),
    (client_frame(0x3, b"reserved opcode"), 1002),
    (client_frame(OP_PING, b"x" * 126), 1002),
    (client_frame(OP_PING, b"x", fin=False), 1002),
    (client_frame(OP_CONT, b"nothing to continue"), 1002),
    (client_frame(OP_TEXT, b"42[\"broadcast\",\"\xff\xfe\"]"), 1007),
    (client_frame(OP_TEXT, b"", claimed_size=2**40), 1009),
    (client_frame(OP_CLOSE, b"\x03"), 1002),
    (client_frame(OP_CLOSE, struct.pack("!H", 1005)), 1002),
    (client_frame(OP_CLOSE, struct.pack("!H", 999)), 1002),
    (client_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
], ids=["unmasked", "rsv1-without-extension", "reserved-opcode", "long-ping", "fragmented-ping",
        "orphan-continuation", "invalid-utf8", "oversized", "close-1-byte", "close-1005", "close-999",
        "close-reason-not-utf8"])
async def test_protocol_errors_close_with_their_code_and_spare_the_others(server, wire, frame, code):
    client, bystander = await wire(), await wire()
    mark = LogMark(server)
    client.send(frame)
    assert await client.closed_with() == code
    assert len(await mark.wait_for("closing websocket from")) == 1
    bystander.send(chat("still here", 7))
    assert (await bystander.ack(7))[0]["ok"] is True


async def test_application_close_code_is_echoed(wire):
    client = await wire()
    client.send(client_frame(OP_CLOSE, struct.pack("!H", 4000) + "au revoir".encode()))
    assert await client.closed_with() == 4000


async def test_peer_that_stops_answering_pings_is_closed(start_server):
    """engineio ends such a session without queueing a packet; the websocket must close anyway."""
    srv = start_server({"server": {"ping_interval": 1, "ping_timeout": 1}})
    client = await WireClient.open(srv.url)
    started = time.monotonic()
    try:
        assert await client.closed_with(timeout=10) == 1000
        assert time.monotonic() - started < 7
        await wait_until(lambda: health(srv.url)["sessions"] == 0, timeout=3, what="session gone")
    finally:
        client.close()


async def test_engineio_close_packet_ends_the_session_and_the_connection(server, wire):
    client = await wire()
    sessions = health(server.url)["sessions"]
    client.send(client_frame(OP_TEXT, "1"))
    assert await client.closed_with(timeout=5) == 1000
    await wait_until(lambda: health(server.url)["sessions"] <= sessions - 1, timeout=3, what="session ended")


async def test_new_message_inside_a_fragmented_one_is_a_protocol_error(wire):
    client = await wire()
    client.send(client_frame(OP_TEXT, b"42[\"broad", fin=False))
    client.send(client_frame(OP_TEXT, b"42[]"))
    assert await client.closed_with() == 1002


async def test_fragments_adding_up_over_the_limit_close_with_1009(start_server):
    srv = start_server({"server": {"max_message_size": 1024}})
    client = await WireClient.open(srv.url)
    limit = 1024 * 6 + 1024  # core.sio.binding: max_message_size x JSON escaping + framing
    try:
        for _ in range(limit // 4000 + 1):
            client.send(client_frame(OP_TEXT if _ == 0 else OP_CONT, b"x" * 4000, fin=False))
        assert await client.closed_with() == 1009
    finally:
        client.close()


async def test_abrupt_disconnect_ends_the_session(server, wire):
    client = await wire()
    sessions = health(server.url)["sessions"]
    client.send(client_frame(OP_TEXT, event_packet("broadcast", "half")[:10], fin=False))
    client.writer.transport.abort()
    await wait_until(lambda: health(server.url)["sessions"] <= sessions - 1, timeout=3, what="session ended")


async def test_binary_frame_reaches_engineio_as_an_attachment(wire):
    """A binary frame completes the packet that announced it (and the handler refuses binary data)."""
    client = await wire()
    client.send(client_frame(OP_TEXT, '451-3["broadcast",{"_placeholder":true,"num":0}]'))
    client.send(client_frame(OP_BINARY, b"\x00\x01\xff"))
    reply = await client.ack(3)
    assert reply[0]["ok"] is False and "binary" in reply[0]["error"]

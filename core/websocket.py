"""A server-side websocket (RFC 6455) on the connection Sanic accepted: handshake, frames, close.

Sanic's own websocket (on the `websockets` package) parses each frame with generators, hands it
over through an assembler with its own locks and events, and costs a task and a future per
`recv()`; for a room chat that was a third of the server's CPU per message. Here frames are
parsed in `data_received` and complete messages queue up for the session, which wakes once per
batch. No extensions are negotiated (permessage-deflate stays off, as the server's default).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import struct

from websockets.protocol import State  # Sanic's WebSocketProtocol reads `.ws_proto.state`

def apply_mask_py(data: bytes, mask: bytes) -> bytes:
    """XOR data with the 4-byte mask repeated (RFC 6455 5.3), in pure Python."""
    size = len(data)
    if not size:
        return b""
    key = int.from_bytes((mask * ((size + 3) // 4))[:size], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(size, "big")


try:
    from websockets.speedups import apply_mask
except ImportError:  # the pure-Python build of websockets
    apply_mask = apply_mask_py

log = logging.getLogger("chat.websocket")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009

# Messages waiting for the session before the socket stops reading from the peer.
INBOX_HIGH = 64
INBOX_LOW = 16
# ... or before this many bytes wait (a message may be up to max_size).
INBOX_HIGH_BYTES = 1024 * 1024
# Unsent bytes in the transport above which send() waits (Sanic's protocol pauses writing there).
SEND_HIGH_WATER = 64 * 1024
# How long a close waits for the peer's close frame before the connection is dropped.
CLOSE_TIMEOUT = 2.0
# Close codes a peer may send (RFC 6455 7.4): the defined ones and the registered/private ranges.
VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class HandshakeError(ValueError):
    """The upgrade request is not a valid RFC 6455 websocket handshake."""


class ConnectionClosed(OSError):
    """The websocket is closed (engineio ends a session on OSError)."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def check_handshake(headers) -> str:
    """The Sec-WebSocket-Accept value for a valid upgrade request; HandshakeError otherwise."""
    if "websocket" not in headers.get("upgrade", "").lower():
        raise HandshakeError("missing Upgrade: websocket")
    if "upgrade" not in [token.strip() for token in headers.get("connection", "").lower().split(",")]:
        raise HandshakeError("missing Connection: upgrade")
    if headers.get("sec-websocket-version", "").strip() != "13":
        raise HandshakeError("unsupported Sec-WebSocket-Version")
    key = headers.get("sec-websocket-key", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise HandshakeError("invalid Sec-WebSocket-Key")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise HandshakeError("invalid Sec-WebSocket-Key") from None
    return accept_key(key)


def frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked, final server frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def text_frame(payload: bytes) -> bytes:
    """A final text frame (what broadcasts write to every websocket recipient)."""
    return frame(OP_TEXT, payload)


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120])


class ServerWebSocket:
    """One accepted websocket: parses the peer's frames, queues its messages, writes ours.

    Sanic's WebSocketProtocol forwards data_received, eof_received and connection_lost to it,
    calls end_connection() when the handler is done and reads `ws_proto.state` and `loop` at
    shutdown; those are the attributes it has.
    """

    __slots__ = ("protocol", "transport", "loop", "state", "close_code", "max_size", "_partial",
                 "_partial_size", "_needed", "_fragments", "_fragment_opcode", "_fragment_size",
                 "_inbox", "_inbox_bytes", "_waiter", "_reading_paused", "_closed", "_lost")

    def __init__(self, protocol, max_size: int):
        self.protocol = protocol
        self.transport = protocol.transport
        self.loop = asyncio.get_running_loop()
        self.state = State.OPEN
        self.close_code: int | None = None
        self.max_size = max_size
        # The start of a frame not fully received yet, in pieces (joined once the frame is
        # complete, so a large message costs one copy), and how many bytes it needs in all.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._needed = 0
        self._fragments: list[bytes] | None = None
        self._fragment_opcode = OP_TEXT
        self._fragment_size = 0
        self._inbox: list = []  # short (reading pauses at INBOX_HIGH), so a list, not a deque
        self._inbox_bytes = 0
        self._waiter: asyncio.Future | None = None
        self._reading_paused = False
        self._lost = False  # connection_lost() came
        self._closed: asyncio.Event | None = None  # created by wait_closed() when someone waits

    # ---- what the peer sends ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.state is State.CLOSED:
            return
        if self._partial:
            self._partial.append(data)
            self._partial_size += len(data)
            if self._partial_size < self._needed:
                return
            data = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
        offset = 0
        self._needed = 0
        end = len(data)
        while end - offset >= 2:
            first, second = data[offset], data[offset + 1]
            size = second & 0x7F
            pos = offset + 2
            if size == 126:
                if end - pos < 2:
                    break
                size = (data[pos] << 8) | data[pos + 1]
                pos += 2
            elif size == 127:
                if end - pos < 8:
                    break
                size = int.from_bytes(data[pos:pos + 8], "big")
                pos += 8
            if not second & 0x80:
                self._fail(CLOSE_PROTOCOL_ERROR, "unmasked client frame")
                return
            if first & 0x70:
                self._fail(CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
                return
            if size > self.max_size:
                self._fail(CLOSE_TOO_BIG, f"message of {size} bytes over the limit of {self.max_size}")
                return
            if end - pos < 4 + size:
                self._needed = pos + 4 + size - offset
                break
            payload = apply_mask(data[pos + 4:pos + 4 + size], data[pos:pos + 4]) if size else b""
            offset = pos + 4 + size
            if not self._on_frame(first & 0x80, first & 0x0F, payload):
                return
        if offset < end:
            self._partial = [data[offset:]]
            self._partial_size = end - offset

    def _on_frame(self, fin: int, opcode: int, payload: bytes) -> bool:
        """Handle one frame; False when the connection is being closed."""
        if opcode >= OP_CLOSE:
            if not fin or len(payload) > 125:
                return self._fail(CLOSE_PROTOCOL_ERROR, "fragmented or oversized control frame")
            if opcode == OP_PING:
                self.write(frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self._on_close_frame(payload)
                return False
            elif opcode != OP_PONG:
                return self._fail(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return True
        if opcode == OP_CONT:
            if self._fragments is None:
                return self._fail(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
            self._fragment_size += len(payload)
            if self._fragment_size > self.max_size:
                return self._fail(CLOSE_TOO_BIG, f"message over the limit of {self.max_size} bytes")
            self._fragments.append(payload)
            if not fin:
                return True
            opcode, payload = self._fragment_opcode, b"".join(self._fragments)
            self._fragments = None
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._fragments is not None:
                return self._fail(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            if not fin:
                self._fragments, self._fragment_opcode, self._fragment_size = [payload], opcode, len(payload)
                return True
        else:
            return self._fail(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == OP_TEXT:
            try:
                message = payload.decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(CLOSE_INVALID_DATA, "text message is not valid UTF-8")
        else:
            message = payload
        self._deliver(message)
        return True

    def _deliver(self, message: str | bytes) -> None:
        self._inbox.append(message)
        self._inbox_bytes += len(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (len(self._inbox) >= INBOX_HIGH or self._inbox_bytes >= INBOX_HIGH_BYTES) and not self._reading_paused:
            self._reading_paused = True  # the session is behind: let TCP push back on the peer
            self.transport.pause_reading()

    def _on_close_frame(self, payload: bytes) -> None:
        if len(payload) == 1:
            self._fail(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
            return
        code = struct.unpack("!H", payload[:2])[0] if payload else CLOSE_NORMAL
        if payload and code not in VALID_CLOSE_CODES and not 3000 <= code < 5000:
            self._fail(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
            return
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            self._fail(CLOSE_INVALID_DATA, "close reason is not valid UTF-8")
            return
        if self.state is State.OPEN:
            self.write(close_frame(code))  # echo the code, as RFC 6455 5.5.1 asks
        self.close_code = code
        self._finish()

    def _fail(self, code: int, why: str) -> bool:
        log.warning("closing websocket from %s: %s", self.peer, why)
        if self.state is State.OPEN:
            self.write(close_frame(code))
        self.close_code = code
        self._finish()
        return False

    def _finish(self) -> None:
        """Stop reading and close the TCP connection once what is written has gone out."""
        self.state = State.CLOSED
        self._partial, self._partial_size = [], 0
        self._close_transport()
        self._wake()

    def _close_transport(self) -> None:
        transport = self.transport
        if not transport.is_closing():
            transport.close()
            # A peer that reads nothing never lets the buffered bytes out: drop it after a while.
            self.loop.call_later(CLOSE_TIMEOUT, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self._lost:
            self.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._closed is not None:
            self._closed.set()
        can_write = getattr(self.protocol, "_can_write", None)
        if can_write is not None:
            can_write.set()  # a send() waiting for the peer to read gives up (the state says why)

    @property
    def ws_proto(self) -> "ServerWebSocket":
        """What Sanic's WebSocketProtocol reads `.state` from (a property: no reference cycle)."""
        return self

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def open(self) -> bool:
        return self.state is State.OPEN

    @property
    def peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unknown peer"

    async def recv(self) -> str | bytes:
        """The next message from the peer; ConnectionClosed once the websocket is closed."""
        inbox = self._inbox
        while not inbox:
            if self.state is not State.OPEN:
                raise ConnectionClosed(f"websocket closed ({self.close_code})")
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = inbox.pop(0)
        self._inbox_bytes -= len(message)
        if self._reading_paused and len(inbox) <= INBOX_LOW and self._inbox_bytes < INBOX_HIGH_BYTES:
            self._resume_reading()
        return message

    def _resume_reading(self) -> None:
        self._reading_paused = False
        if self.state is not State.CLOSED and not self.transport.is_closing():
            self.transport.resume_reading()

    # ---- what we send ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write bytes that are already websocket frames."""
        transport = self.transport
        if not transport.is_closing():
            transport.write(data)

    def can_write_now(self) -> bool:
        """Whether a frame written now goes out in order, without piling up behind a slow reader."""
        return self.state is State.OPEN and not self.transport.is_closing() and \
            self.transport.get_write_buffer_size() <= SEND_HIGH_WATER

    async def send(self, message: str | bytes) -> None:
        """Send one message, waiting while the peer is not reading what we already sent."""
        if self.state is not State.OPEN:
            raise ConnectionClosed(f"websocket closed ({self.close_code})")
        if isinstance(message, str):
            data = frame(OP_TEXT, message.encode("utf-8"))
        else:
            data = frame(OP_BINARY, message)
        self.write(data)
        if self.transport.get_write_buffer_size() > SEND_HIGH_WATER:
            await self._drained()

    async def _drained(self) -> None:
        can_write = getattr(self.protocol, "_can_write", None)  # Sanic's protocol pauses/resumes it
        if can_write is not None:
            await can_write.wait()
        if self.state is not State.OPEN:
            raise ConnectionClosed(f"websocket closed ({self.close_code})")

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        """Send a close frame and wait (briefly) for the peer's, then drop the connection."""
        if self.state is State.OPEN:
            self.state = State.CLOSING
            self.write(close_frame(code))
            self.close_code = code
            if self._reading_paused:
                self._resume_reading()  # the peer's close frame is behind what we stopped reading
            try:
                await asyncio.wait_for(self.wait_closed(), CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                pass
        self.end_connection(code)

    async def wait_closed(self) -> None:
        if self.state is State.CLOSED:
            return
        if self._closed is None:
            self._closed = asyncio.Event()
        await self._closed.wait()

    def end_connection(self, code: int = CLOSE_GOING_AWAY) -> None:
        """Close now (Sanic calls this when the handler is done and at shutdown)."""
        if self.state is State.OPEN:
            self.write(close_frame(code))
            self.close_code = code
        if self.state is not State.CLOSED:
            self.state = State.CLOSED
            self._close_transport()
            self._wake()

    def fail_connection(self, code: int = 1006, reason: str = "") -> bool:
        """Drop the connection now (Sanic calls this at shutdown for what is still open)."""
        self.close_code = self.close_code or code
        self.state = State.CLOSED
        if not self._lost:
            self.transport.abort()
        self._wake()
        return True

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost follows

    def connection_lost(self, exc) -> None:
        self._lost = True
        if self.close_code is None:
            self.close_code = 1006
        self.state = State.CLOSED
        self._wake()


async def accept(request, max_size: int) -> ServerWebSocket:
    """Answer the upgrade request with 101 and take the connection over from Sanic's HTTP."""
    accept_value = check_handshake(request.headers)
    protocol = request.transport.get_protocol()
    response = ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_value}\r\n\r\n").encode("ascii")
    await protocol.send(response)
    ws = ServerWebSocket(protocol, max_size)
    protocol.websocket = ws  # from here Sanic's protocol hands every byte to ws.data_received
    # Sanic cancels a connection's handler task when the TCP connection goes, wherever it is:
    # halfway through a message the peer sent just before closing. The session ends by itself
    # (connection_lost wakes it), so the task is taken off Sanic's books; Sanic only uses it for
    # HTTP timeouts, which it stops for websockets anyway.
    protocol._task = None
    return ws

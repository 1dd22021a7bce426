"""RFC 6455 on the server side, without I/O: the handshake answer, frames out, frames in.

core.transport.websocket puts this on the connection Sanic accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct


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

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009

# Close codes a peer may send (RFC 6455 7.4): the defined ones and the registered/private ranges.
VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class HandshakeError(ValueError):
    """The upgrade request is not a valid RFC 6455 websocket handshake."""


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


class ProtocolError(ValueError):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code


def close_code(payload: bytes) -> int:
    """The code of a peer's close frame (1000 when it gives none), checked as RFC 6455 7.4 asks."""
    if not payload:
        return CLOSE_NORMAL
    if len(payload) == 1:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = struct.unpack("!H", payload[:2])[0]
    if code not in VALID_CLOSE_CODES and not 3000 <= code < 5000:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(CLOSE_INVALID_DATA, "close reason is not valid UTF-8") from None
    return code


class FrameReader:
    """Turns what a client sends into messages, pings and a close (RFC 6455 5).

    A base class: feed() calls the subclass's on_message(str | bytes), on_ping(bytes) and
    on_close(code), and raises ProtocolError when the peer breaks the protocol.
    """

    __slots__ = ("max_size", "_partial", "_partial_size", "_needed", "_fragments",
                 "_fragment_opcode", "_fragment_size")

    def __init__(self, max_size: int):
        self.max_size = max_size
        # The start of a frame not fully received yet, in pieces (joined once the frame is
        # complete, so a large message costs one copy), and how many bytes it needs in all.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._needed = 0
        self._fragments: list[bytes] | None = None
        self._fragment_opcode = OP_TEXT
        self._fragment_size = 0

    def on_message(self, message: str | bytes) -> None:
        raise NotImplementedError

    def on_ping(self, payload: bytes) -> None:
        raise NotImplementedError

    def on_close(self, code: int) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget a partly received frame (the connection is closing)."""
        self._partial, self._partial_size = [], 0

    def feed(self, data: bytes) -> None:
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
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "unmasked client frame")
            if first & 0x70:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
            if size > self.max_size:
                raise ProtocolError(CLOSE_TOO_BIG, f"message of {size} bytes over the limit of {self.max_size}")
            if end - pos < 4 + size:
                self._needed = pos + 4 + size - offset
                break
            payload = apply_mask(data[pos + 4:pos + 4 + size], data[pos:pos + 4]) if size else b""
            offset = pos + 4 + size
            if not self._frame(first & 0x80, first & 0x0F, payload):
                return  # the peer closed: nothing after its close frame counts
        if offset < end:
            self._partial = [data[offset:]]
            self._partial_size = end - offset

    def _frame(self, fin: int, opcode: int, payload: bytes) -> bool:
        """Handle one frame; False after the peer's close frame."""
        if opcode >= OP_CLOSE:
            if not fin or len(payload) > 125:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "fragmented or oversized control frame")
            if opcode == OP_PING:
                self.on_ping(payload)
            elif opcode == OP_CLOSE:
                self.on_close(close_code(payload))
                return False
            elif opcode != OP_PONG:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return True
        if opcode == OP_CONT:
            if self._fragments is None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
            self._fragment_size += len(payload)
            if self._fragment_size > self.max_size:
                raise ProtocolError(CLOSE_TOO_BIG, f"message over the limit of {self.max_size} bytes")
            self._fragments.append(payload)
            if not fin:
                return True
            opcode, payload = self._fragment_opcode, b"".join(self._fragments)
            self._fragments = None
        elif opcode in (OP_TEXT, OP_BINARY):
            if self._fragments is not None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            if not fin:
                self._fragments, self._fragment_opcode, self._fragment_size = [payload], opcode, len(payload)
                return True
        else:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == OP_TEXT:
            try:
                self.on_message(payload.decode("utf-8"))
            except UnicodeDecodeError:
                raise ProtocolError(CLOSE_INVALID_DATA, "text message is not valid UTF-8") from None
        else:
            self.on_message(payload)
        return True

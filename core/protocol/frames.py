"""RFC 6455 frames without I/O: server frames out, client frames in (`FrameReader`).

core.protocol.connection holds the state machine on top of the reader; core.transport.websocket
puts that on the connection Sanic accepted.
"""

from __future__ import annotations

import codecs
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

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

# Close codes a peer may send (RFC 6455 7.4): the defined ones and the registered/private ranges.
VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

# Messages up to this size are not checked against the connection's budget one by one: the
# connection stops reading once its inbox holds a few of them (core.transport.websocket).
SMALL_FRAME = 16 * 1024
# What one kept fragment costs besides its payload (a bytes object and its list slot).
FRAGMENT_OVERHEAD = 48

_utf8_decoder = codecs.getincrementaldecoder("utf-8")
# Opcodes RFC 6455 defines, by value (a tuple: indexed once per frame).
_KNOWN_OPCODES = tuple(op in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG) for op in range(16))


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


def close_frame(code: int | None, reason: str = "") -> bytes:
    """A close frame with a code and a reason cut to fit a control frame (None: no status code)."""
    if code is None:
        return frame(OP_CLOSE, b"")  # the peer sees 1005, as after Node's ws.close()
    return frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120])


class ProtocolError(ValueError):
    """The peer broke RFC 6455 (or a limit); `code` is the close code to answer with."""

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
    """Turns what a client sends into messages, pings, pongs and a close (RFC 6455 5).

    A base class: feed() calls the subclass's on_message(str | bytes), on_ping(bytes),
    on_pong(bytes) and on_close(code), and raises ProtocolError when the peer breaks the
    protocol or a limit: a message over max_size, in more than max_fragments pieces, or larger
    than `room`, the bytes its connection may still hold (set by the caller before each feed;
    checked at the frame header, before the payload arrives).
    """

    __slots__ = ("max_size", "max_fragments", "room", "_partial", "_partial_size", "_needed",
                 "_fragments", "_fragment_opcode", "_fragment_size", "_decoder")

    def __init__(self, max_size: int, max_fragments: int = 1 << 30):
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.room = 1 << 62  # bytes the connection may still hold besides the message being read
        # The start of a frame not fully received yet, in pieces (joined once the frame is
        # complete, so a large message costs one copy), and how many bytes it needs in all.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._needed = 0
        self._fragments: list | None = None  # bytes, or str for text (decoded fragment by fragment)
        self._fragment_opcode = OP_TEXT
        self._fragment_size = 0
        self._decoder = None  # the incremental UTF-8 decoder of a fragmented text message

    def on_message(self, message: str | bytes) -> None:
        raise NotImplementedError

    def on_ping(self, payload: bytes) -> None:
        raise NotImplementedError

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_close(self, code: int) -> None:
        raise NotImplementedError

    def held(self) -> int:
        """Bytes held for a message not complete yet (a partial frame, fragments)."""
        fragments = self._fragments
        kept = self._fragment_size + len(fragments) * FRAGMENT_OVERHEAD if fragments is not None else 0
        return self._partial_size + kept

    def reset(self) -> None:
        """Forget a partly received frame or message (the connection is closing)."""
        self._partial, self._partial_size = [], 0
        self._fragments, self._decoder, self._fragment_size = None, None, 0

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
            # The first two bytes say enough to refuse a frame before its length and payload come.
            if not second & 0x80:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "unmasked client frame")
            if first & 0x70:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
            if not _KNOWN_OPCODES[first & 0x0F]:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {first & 0x0F}")
            if first & 0x08 and not first & 0x80:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
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
                if data[pos] & 0x80:
                    raise ProtocolError(CLOSE_PROTOCOL_ERROR, "64-bit frame length with the high bit set")
                size = int.from_bytes(data[pos:pos + 8], "big")
                pos += 8
            if size > 125 or self._fragments is not None:
                self._check_size(first & 0x0F, size)
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

    def _check_size(self, opcode: int, size: int) -> None:
        """Refuse a frame at its header when its message cannot fit the limits."""
        if opcode >= OP_CLOSE:
            if size > 125:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "oversized control frame")
            return
        total = size + (self._fragment_size if opcode == OP_CONT and self._fragments is not None else 0)
        if total > self.max_size:
            raise ProtocolError(CLOSE_TOO_BIG, f"message of {total} bytes or more over the limit of {self.max_size}")
        if total > SMALL_FRAME and total > self.room:
            raise ProtocolError(CLOSE_TOO_BIG, f"message of {total} bytes or more over what this "
                                               f"connection may still hold ({max(self.room, 0)} bytes)")

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
            elif opcode == OP_PONG:
                self.on_pong(payload)
            else:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return True
        if opcode == OP_CONT:
            fragments = self._fragments
            if fragments is None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
            if len(fragments) >= self.max_fragments:
                raise ProtocolError(CLOSE_TOO_BIG, f"message in more than {self.max_fragments} fragments")
            self._fragment_size += len(payload)
            if self._fragment_size > self.max_size:  # the header check covers this; kept for subclasses
                raise ProtocolError(CLOSE_TOO_BIG, f"message over the limit of {self.max_size} bytes")
            decoder = self._decoder
            if decoder is not None:
                fragments.append(self._decode(decoder, payload, fin))
            else:
                fragments.append(payload)
            if not fin:
                return True
            self._fragments, self._decoder = None, None
            message = ("" if decoder is not None else b"").join(fragments)
            self._fragment_size = 0
            self.on_message(message)
            return True
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._fragments is not None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            if not fin:
                self._fragment_opcode, self._fragment_size = opcode, len(payload)
                if opcode == OP_TEXT:
                    self._decoder = _utf8_decoder()
                    self._fragments = [self._decode(self._decoder, payload, False)]
                else:
                    self._fragments = [payload]
                return True
        else:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == OP_TEXT:
            try:
                message = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(CLOSE_INVALID_DATA, "text message is not valid UTF-8") from None
            self.on_message(message)
        else:
            self.on_message(payload)
        return True

    @staticmethod
    def _decode(decoder, payload: bytes, final: bool) -> str:
        """One fragment of a text message, checked as it arrives (invalid UTF-8 fails fast)."""
        try:
            return decoder.decode(payload, final)
        except UnicodeDecodeError:
            raise ProtocolError(CLOSE_INVALID_DATA, "text message is not valid UTF-8") from None

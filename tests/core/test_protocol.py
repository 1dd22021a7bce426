"""core.protocol byte by byte: the handshake checks, FrameReader's limits and the ServerProtocol state
machine, and a property test against the `websockets` library's own sans-I/O parser."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol as ReferenceProtocol

from core.protocol.connection import ServerProtocol
from core.protocol.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, SMALL_FRAME, frame
from core.protocol.handshake import HandshakeError, accept_key, accept_response, check_request
from tests.support.attack import client_frame

MASK = b"\x01\x02\x03\x04"


def masked(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    return bytes([client_frame(opcode, payload, fin, MASK)[0] | rsv]) + client_frame(opcode, payload, fin, MASK)[1:]


def header_only(opcode: int, size: int, fin: bool = True) -> bytes:
    """A masked frame's header announcing `size` bytes, and its mask, without the payload."""
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        return struct.pack("!BB", first, 0x80 | size) + MASK
    if size < 65536:
        return struct.pack("!BBH", first, 0x80 | 126, size) + MASK
    return struct.pack("!BBQ", first, 0x80 | 127, size) + MASK


def parsed(data: bytes, max_size: int = 1 << 20, **limits) -> ServerProtocol:
    proto = ServerProtocol(max_size, **limits)
    proto.receive_data(data)
    return proto


def close_code_of(frame_bytes: bytes) -> int:
    assert frame_bytes[0] == 0x80 | OP_CLOSE
    return struct.unpack("!H", frame_bytes[2:4])[0]


# ---- handshake -------------------------------------------------------------------------------------

GOOD = {"Upgrade": "websocket", "Connection": "keep-alive, Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def headers(**changes) -> CIMultiDict:
    fields = CIMultiDict({k: v for k, v in GOOD.items() if k.replace("-", "_").lower() not in changes})
    for name, value in changes.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                fields.add(name.replace("_", "-"), v)
    return fields


def test_a_valid_request_gets_the_rfc_accept_value():
    assert check_request("1.1", headers()) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert accept_response("abc") == (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n")
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("version, changes, status", [
    ("1.0", {}, 505),
    ("1.1", {"upgrade": None}, 400),
    ("1.1", {"upgrade": "h2c"}, 400),
    ("1.1", {"connection": None}, 400),
    ("1.1", {"connection": "keep-alive"}, 400),
    ("1.1", {"sec_websocket_version": "8"}, 426),
    ("1.1", {"sec_websocket_version": ["13", "13"]}, 426),
    ("1.1", {"sec_websocket_key": None}, 400),
    ("1.1", {"sec_websocket_key": ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="]}, 400),
    ("1.1", {"sec_websocket_key": "c2hvcnQ="}, 400),
    ("1.1", {"sec_websocket_key": "not base64!"}, 400),
])
def test_invalid_requests_are_refused_with_the_status_websockets_uses(version, changes, status):
    with pytest.raises(HandshakeError) as refused:
        check_request(version, headers(**changes))
    assert refused.value.status == status
    if status == 426:
        assert refused.value.headers == (("Sec-WebSocket-Version", "13"),)


# ---- frames in -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_every_length_encoding_gives_the_message_back(size):
    payload = bytes(i % 251 for i in range(size))
    assert parsed(masked(OP_BINARY, payload)).events_received() == [payload]


def test_a_frame_split_at_every_byte_is_one_message():
    data = masked(OP_TEXT, "héllo wörld".encode())
    proto = ServerProtocol(1000)
    for i in range(len(data)):
        proto.receive_data(data[i:i + 1])
    assert proto.events_received() == ["héllo wörld"]


def test_fragments_with_a_ping_between_are_one_message_and_one_pong():
    data = masked(OP_TEXT, b"ab", fin=False) + masked(OP_PING, b"p") + masked(OP_CONT, b"cd")
    proto = parsed(data)
    assert proto.events_received() == ["abcd"]
    assert proto.data_to_send() == [frame(OP_PONG, b"p")]


def test_a_character_split_across_fragments_decodes_whole():
    encoded = "日本".encode()
    data = masked(OP_TEXT, encoded[:2], fin=False) + masked(OP_CONT, encoded[2:4], fin=False) + \
        masked(OP_CONT, encoded[4:])
    assert parsed(data).events_received() == ["日本"]


@pytest.mark.parametrize("data, code", [
    (struct.pack("!BB", 0x81, 2) + b"hi", 1002),  # unmasked
    (masked(OP_TEXT, b"x", rsv=0x40), 1002),  # RSV1 without an extension
    (masked(0x3, b"x"), 1002),  # reserved data opcode
    (masked(0xB, b"x"), 1002),  # reserved control opcode
    (masked(OP_PING, b"x", fin=False), 1002),  # fragmented control frame
    (header_only(OP_PING, 126), 1002),  # oversized control frame: refused at its header
    (masked(OP_CONT, b"x"), 1002),  # continuation without a message
    (masked(OP_TEXT, b"a", fin=False) + masked(OP_TEXT, b"b"), 1002),  # new message inside one
    (struct.pack("!BBQ", 0x81, 0xFF, 2 ** 63 + 1) + MASK, 1002),  # 64-bit length, high bit set
    (masked(OP_TEXT, b"\xff"), 1007),
    (masked(OP_TEXT, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate is not UTF-8
    (masked(OP_CLOSE, b"\x03"), 1002),  # 1-byte close payload
    (masked(OP_CLOSE, struct.pack("!H", 1005)), 1002),  # a code no peer may send
    (masked(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),  # reason not UTF-8
])
def test_protocol_errors_carry_their_close_code(data, code):
    proto = parsed(data)
    assert proto.error is not None and proto.error.code == code, proto.error
    proto.fail()
    assert close_code_of(proto.data_to_send()[-1]) == code
    assert proto.state is State.CLOSED


def test_invalid_utf8_fails_at_its_fragment_before_the_message_ends():
    proto = parsed(masked(OP_TEXT, b"ok \xc3\x28", fin=False))  # invalid continuation byte
    assert proto.error is not None and proto.error.code == 1007


def test_a_message_over_max_size_is_refused_at_its_header():
    proto = parsed(header_only(OP_BINARY, 1001), max_size=1000)
    assert proto.error.code == 1009


def test_a_continuation_over_max_size_is_refused_at_its_header():
    proto = parsed(masked(OP_BINARY, b"x" * 600, fin=False) + header_only(OP_CONT, 401), max_size=1000)
    assert proto.error.code == 1009


def test_a_large_message_over_the_connection_room_is_refused_at_its_header():
    proto = ServerProtocol(1 << 20)
    proto.room = SMALL_FRAME + 10
    proto.receive_data(header_only(OP_BINARY, SMALL_FRAME + 11))
    assert proto.error.code == 1009
    proto = ServerProtocol(1 << 20)
    proto.room = SMALL_FRAME + 10
    proto.receive_data(masked(OP_BINARY, b"x" * (SMALL_FRAME + 10)))
    assert proto.error is None and proto.events_received() == [b"x" * (SMALL_FRAME + 10)]


def test_the_fragment_count_is_limited():
    pieces = masked(OP_TEXT, b"a", fin=False) + masked(OP_CONT, b"b", fin=False) * 2 + masked(OP_CONT, b"c")
    assert parsed(pieces, max_fragments=4).events_received() == ["abbc"]
    proto = parsed(masked(OP_TEXT, b"a", fin=False) + masked(OP_CONT, b"b", fin=False) * 4, max_fragments=4)
    assert proto.error.code == 1009


def test_messages_before_an_error_are_kept_and_nothing_after_counts():
    proto = parsed(masked(OP_TEXT, b"first") + struct.pack("!BB", 0x81, 1) + b"x" + masked(OP_TEXT, b"after"))
    assert proto.events_received() == ["first"]
    assert proto.error.code == 1002
    proto.receive_data(masked(OP_TEXT, b"later"))
    assert proto.events_received() == []
    assert proto.state is State.OPEN  # the caller sends its replies, then fail()s


# ---- state machine ---------------------------------------------------------------------------------

def test_the_peer_close_is_echoed_and_ends_the_connection():
    proto = parsed(masked(OP_CLOSE, struct.pack("!H", 4001) + b"bye") + masked(OP_TEXT, b"ignored"))
    assert proto.data_to_send() == [frame(OP_CLOSE, struct.pack("!H", 4001))]
    assert proto.state is State.CLOSED and proto.close_code == 4001
    assert proto.events_received() == []


def test_an_empty_close_is_1000():
    proto = parsed(masked(OP_CLOSE, b""))
    assert proto.close_code == 1000 and close_code_of(proto.data_to_send()[0]) == 1000


def test_our_close_then_the_peers_is_not_echoed_again():
    proto = ServerProtocol(1000)
    proto.send_close(1001)
    assert proto.state is State.CLOSING
    assert close_code_of(proto.data_to_send()[0]) == 1001
    proto.receive_data(masked(OP_CLOSE, struct.pack("!H", 1001)))
    assert proto.state is State.CLOSED and proto.data_to_send() == []


def test_pongs_stop_when_the_credit_is_used_up():
    proto = ServerProtocol(1000)
    proto.pong_credit = 2
    proto.receive_data(masked(OP_PING, b"1") + masked(OP_PING, b"2") + masked(OP_PING, b"3") + masked(OP_PONG, b""))
    assert proto.data_to_send() == [frame(OP_PONG, b"1"), frame(OP_PONG, b"2")]
    assert (proto.pings, proto.pings_refused) == (4, 1)


def test_our_frames_come_out_in_order():
    proto = ServerProtocol(1000)
    proto.send_text(b"hi")
    proto.send_binary(b"\x00")
    assert proto.data_to_send() == [frame(OP_TEXT, b"hi"), frame(OP_BINARY, b"\x00")]
    assert proto.data_to_send() == []


def test_connection_lost_is_1006():
    proto = ServerProtocol(1000)
    proto.connection_lost()
    assert proto.state is State.CLOSED and proto.close_code == 1006


# ---- against websockets' own parser ----------------------------------------------------------------

messages = st.one_of(st.tuples(st.just(OP_TEXT), st.text(max_size=300).map(str.encode)),
                     st.tuples(st.just(OP_BINARY), st.binary(max_size=70000 // 40)))
controls = st.tuples(st.sampled_from([OP_PING, OP_PONG]), st.binary(max_size=125))


@st.composite
def streams(draw):
    """Valid client frames: messages (some fragmented, pings between fragments), a close at the end."""
    frames, expected = [], []
    for _ in range(draw(st.integers(0, 6))):
        opcode, payload = draw(messages)
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
        for i, piece in enumerate(pieces):
            frames.append(masked(opcode if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1))
            if draw(st.booleans()):
                frames.append(masked(*draw(controls)))
        expected.append(payload.decode() if opcode == OP_TEXT else payload)
    if draw(st.booleans()):
        frames.append(masked(OP_CLOSE, struct.pack("!H", draw(st.sampled_from([1000, 1001, 3000, 4999])))))
    data = b"".join(frames)
    splits = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return [data[a:b] for a, b in zip([0, *splits], [*splits, len(data)])], expected


def reference(chunks: list[bytes]) -> tuple[list, list[bytes], int | None]:
    """Messages, bytes to send, close code as websockets' ServerProtocol sees the same stream."""
    ref = ReferenceProtocol(state=State.OPEN, max_size=None)
    out, messages, pieces, text = [], [], [], False
    for chunk in chunks:
        ref.receive_data(chunk)
        for event in ref.events_received():
            if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                pieces, text = [event.data], event.opcode is Opcode.TEXT
            elif event.opcode is Opcode.CONT:
                pieces.append(event.data)
            else:
                continue
            if event.fin:
                joined = b"".join(pieces)
                messages.append(joined.decode() if text else joined)
        out.extend(ref.data_to_send())
    return messages, [o for o in out if o], ref.close_rcvd.code if ref.close_rcvd else None


@settings(max_examples=300, deadline=None)
@given(streams())
def test_valid_streams_parse_as_websockets_parses_them(stream):
    chunks, expected = stream
    ours = ServerProtocol(1 << 20)
    out = []
    for chunk in chunks:
        ours.receive_data(chunk)
        out.extend(ours.data_to_send())
    got = ours.events_received()
    assert ours.error is None
    assert (got, out, ours.close_code) == reference(chunks)
    assert got == expected


@st.composite
def any_frame(draw) -> bytes:
    """A complete frame with any first byte, mask bit and payload, its length encoded any legal way."""
    first = draw(st.integers(0, 255))
    payload = draw(st.binary(max_size=130))
    mask_bit = 0x80 if draw(st.integers(0, 9)) else 0  # mostly masked
    size = len(payload)
    encoding = draw(st.sampled_from(["short", "16", "64"]) if size < 126 else st.sampled_from(["16", "64"]))
    if encoding == "short":
        header = struct.pack("!BB", first, mask_bit | size)
    elif encoding == "16":
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not mask_bit:
        return header + payload
    return header + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(any_frame(), streams().map(lambda s: b"".join(s[0]))), max_size=5))
def test_any_frames_fail_where_websockets_fails(parts):
    """On any sequence of complete frames, ours and websockets agree on whether it breaks the protocol."""
    data = b"".join(parts)
    ours = parsed(data)
    ref = ReferenceProtocol(state=State.OPEN, max_size=None)
    ref.receive_data(data)
    if ours.error is not None and ours.error.code == 1007:
        return  # websockets checks UTF-8 above its parser (in its connection), not in it
    if ref.parser_exc is not None and "incomplete fragmented message" in str(ref.parser_exc):
        # A close frame inside a fragmented message: RFC 6455 5.4 lets control frames come
        # between fragments; websockets refuses a close there, this server takes it.
        assert ours.error is None and ours.close_code is not None
        return
    assert (ours.error is not None) == (ref.parser_exc is not None), (data, ours.error, ref.parser_exc)
    if ours.error is None:
        assert ours.events_received() == reference([data])[0]

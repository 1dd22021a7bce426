"""A server-side RFC 6455 connection without I/O: bytes in, messages and bytes to send out.

    proto = ServerProtocol(max_size)
    proto.receive_data(data)          # what the peer sent, in any pieces
    proto.events_received()           # the complete messages (str | bytes) since the last call
    proto.data_to_send()              # bytes to write: pongs, the close echo, our own frames
    proto.state                       # OPEN, CLOSING (we sent a close), CLOSED (close exchanged)

A protocol error does not close at once: `error` is set, nothing more is read, and the caller
sends what it still owes for the messages before it (their replies) and then `fail()`s, which
queues the close frame with the error's code.

Limits are plain numbers the caller sets before each receive_data(), so the object needs no
clock and holds no reference back to its caller: `room` (bytes the connection may still hold,
checked at each frame header), `pong_credit` (pings that may still be answered: the caller's
rate limiter and write buffer decide; pings beyond it are counted in `pings_refused`).
"""

from __future__ import annotations

from websockets.protocol import State  # Sanic's WebSocketProtocol compares `.ws_proto.state` with these

from core.protocol.frames import (CLOSE_GOING_AWAY, OP_BINARY, OP_PONG, OP_TEXT, FrameReader, ProtocolError,
                                  close_frame, frame)

__all__ = ["ServerProtocol", "State"]


class ServerProtocol(FrameReader):
    """The websocket state machine: close handshake, pongs, protocol errors, limits."""

    __slots__ = ("state", "close_code", "error", "pings", "pings_refused", "pong_credit", "_events", "_out")

    def __init__(self, max_size: int, max_fragments: int = 1 << 30):
        super().__init__(max_size, max_fragments)
        self.state = State.OPEN
        self.close_code: int | None = None  # the code received, sent, or 1006 when the TCP link went
        self.error: ProtocolError | None = None  # the peer broke the protocol; fail() answers it
        self.pings = 0  # pings and pongs received (the rate limiter counts both)
        self.pings_refused = 0  # pings left unanswered for want of pong_credit
        self.pong_credit = 1 << 30
        self._events: list = []
        self._out: list[bytes] = []

    # ---- bytes in ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Parse what the peer sent; messages, pongs and a close come out of the calls below."""
        if self.state is State.CLOSED or self.error is not None:
            return  # after its close frame or an error nothing the peer sends counts
        try:
            self.feed(data)
        except ProtocolError as exc:
            self.error = exc
            self.reset()

    def events_received(self) -> list:
        """The messages completed since the last call, oldest first."""
        events = self._events
        if events:
            self._events = []
        return events

    def data_to_send(self) -> list[bytes]:
        """Bytes to write to the peer since the last call, in order."""
        out = self._out
        if out:
            self._out = []
        return out

    def on_message(self, message: str | bytes) -> None:
        self._events.append(message)

    def on_ping(self, payload: bytes) -> None:
        self.pings += 1
        if self.state is not State.OPEN:
            return
        if self.pong_credit > 0:
            self.pong_credit -= 1
            self._out.append(frame(OP_PONG, payload))
        else:
            self.pings_refused += 1

    def on_pong(self, payload: bytes) -> None:
        self.pings += 1  # unsolicited pongs cost as much to read as pings

    def on_close(self, code: int) -> None:
        if self.state is State.OPEN:
            self._out.append(close_frame(code))  # echo the code, as RFC 6455 5.5.1 asks
            self.close_code = code
        elif self.close_code is None:
            self.close_code = code
        self.state = State.CLOSED  # the close is exchanged: the server closes TCP (RFC 6455 7.1.1)
        self.reset()

    # ---- bytes out --------------------------------------------------------------------------

    def send_text(self, data: bytes) -> None:
        """A text message (UTF-8 bytes) to send."""
        self._out.append(frame(OP_TEXT, data))

    def send_binary(self, data: bytes) -> None:
        self._out.append(frame(OP_BINARY, data))

    def send_close(self, code: int | None = 1000, reason: str = "") -> None:
        """Start the close handshake (or, if the peer started it, nothing more is sent)."""
        if self.state is State.OPEN:
            self._out.append(close_frame(code, reason))
            self.close_code = code
            self.state = State.CLOSING

    def fail(self, code: int | None = None, reason: str = "") -> None:
        """Close at once: the close frame for the protocol error (or `code`), then no more frames."""
        if code is None:
            code = self.error.code if self.error is not None else CLOSE_GOING_AWAY
        if self.state is State.OPEN:
            self._out.append(close_frame(code, reason))
            self.close_code = code
        self.state = State.CLOSED
        self.reset()

    def connection_lost(self) -> None:
        """The TCP connection is gone (1006 unless a close was exchanged)."""
        if self.close_code is None:
            self.close_code = 1006
        self.state = State.CLOSED
        self.reset()

    @property
    def open(self) -> bool:
        return self.state is State.OPEN and self.error is None

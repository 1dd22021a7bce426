"""A server-side websocket (RFC 6455) on the connection Sanic accepted: handshake, frames, close.

Sanic's own websocket (on the `websockets` package) parses each frame with generators, hands it
over through an assembler with its own locks and events, and costs a task and a future per
`recv()`; for a room chat that was a third of the server's CPU per message. Here frames are
parsed in `data_received` (core.protocol.frames) and complete messages queue up for the session, which
wakes once per batch. No extensions are negotiated (permessage-deflate stays off, as the
server's default).
"""

from __future__ import annotations

import asyncio
import logging

from websockets.protocol import State  # Sanic's WebSocketProtocol reads `.ws_proto.state`

from core.protocol.frames import (CLOSE_GOING_AWAY, CLOSE_NORMAL, OP_BINARY, OP_PONG, OP_TEXT, FrameReader,
                            HandshakeError, ProtocolError, check_handshake, close_frame, frame)

__all__ = ["ConnectionClosed", "HandshakeError", "ServerWebSocket", "accept"]

log = logging.getLogger("chat.websocket")

# Messages waiting for the session before the socket stops reading from the peer.
INBOX_HIGH = 64
INBOX_LOW = 16
# ... or before this many bytes wait (a message may be up to max_size).
INBOX_HIGH_BYTES = 1024 * 1024
# Unsent bytes in the transport above which send() waits (Sanic's protocol pauses writing there).
SEND_HIGH_WATER = 64 * 1024
# How long a close waits for the peer's close frame before the connection is dropped.
CLOSE_TIMEOUT = 2.0


class ConnectionClosed(OSError):
    """The websocket is closed (engineio ends a session on OSError)."""


class ServerWebSocket(FrameReader):
    """One accepted websocket: reads the peer's frames, queues its messages, writes ours.

    Sanic's WebSocketProtocol forwards data_received, eof_received and connection_lost to it,
    calls end_connection() when the handler is done and reads `ws_proto.state` and `loop` at
    shutdown; those are the attributes it has.
    """

    __slots__ = ("protocol", "transport", "loop", "state", "close_code", "_inbox", "_inbox_bytes",
                 "_waiter", "_reading_paused", "_closed", "_lost")

    def __init__(self, protocol, max_size: int):
        super().__init__(max_size)
        self.protocol = protocol
        self.transport = protocol.transport
        self.loop = asyncio.get_running_loop()
        self.state = State.OPEN
        self.close_code: int | None = None
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
        try:
            self.feed(data)
        except ProtocolError as exc:
            self._fail(exc.code, str(exc))

    def on_ping(self, payload: bytes) -> None:
        self.write(frame(OP_PONG, payload))

    def on_message(self, message: str | bytes) -> None:
        self._inbox.append(message)
        self._inbox_bytes += len(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (len(self._inbox) >= INBOX_HIGH or self._inbox_bytes >= INBOX_HIGH_BYTES) and not self._reading_paused:
            self._reading_paused = True  # the session is behind: let TCP push back on the peer
            self.transport.pause_reading()

    def on_close(self, code: int) -> None:
        if self.state is State.OPEN:
            self.write(close_frame(code))  # echo the code, as RFC 6455 5.5.1 asks
        self.close_code = code
        self._finish()

    def _fail(self, code: int, why: str) -> None:
        log.warning("closing websocket from %s: %s", self.peer, why)
        if self.state is State.OPEN:
            self.write(close_frame(code))
        self.close_code = code
        self._finish()

    def _finish(self) -> None:
        """Stop reading and close the TCP connection once what is written has gone out."""
        self.state = State.CLOSED
        self.reset()
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
    ws = ServerWebSocket(protocol, max_size)
    # From here Sanic's protocol hands every byte to ws.data_received (set before the 101, so
    # nothing the client sends after it can land in Sanic's HTTP buffer).
    protocol.websocket = ws
    # Sanic cancels a connection's handler task when the TCP connection goes, wherever it is:
    # halfway through a message the peer sent just before closing. The session ends by itself
    # (connection_lost wakes it), so the task is taken off Sanic's books; Sanic only uses it for
    # HTTP timeouts, which it stops for websockets anyway.
    protocol._task = None
    ws.write(("HTTP/1.1 101 Switching Protocols\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              f"Sec-WebSocket-Accept: {accept_value}\r\n\r\n").encode("ascii"))
    return ws

"""A server-side websocket on the connection Sanic accepted: core.protocol's state machine plus I/O.

Sanic's own websocket (on the `websockets` package) parses each frame with generators, hands it
over through an assembler with its own locks and events, and costs a task and a future per
`recv()`; for a room chat that was a third of the server's CPU per message. Here bytes go to
the sans-I/O core.protocol.connection.ServerProtocol in `data_received`, and complete messages
queue up for the session, which wakes once per batch. No extensions are negotiated.

What one client may make this hold is bounded (core.transport.budget): messages waiting for
the session pause reading; a message that cannot fit the budget is refused at its frame
header; while the peer does not read, reading from it pauses and pings go unanswered; pings
and pongs are metered like messages (core.transport.pings). The object keeps no reference to
Sanic's protocol, so a closed connection leaves no reference cycle behind.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from core.protocol.connection import ServerProtocol, State
from core.protocol.frames import (CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, CLOSE_POLICY,
                                  CLOSE_TOO_BIG, OP_BINARY, OP_TEXT, frame)
from core.transport.budget import TransportPolicy
from core.transport.pings import PingMeter, pong_credit

__all__ = ["ConnectionClosed", "ServerWebSocket"]

log = logging.getLogger("chat.websocket")

# Messages waiting for the session before the socket stops reading from the peer.
INBOX_HIGH = 64
INBOX_LOW = 16
# ... or before this many bytes wait (a message may be up to max_size).
INBOX_HIGH_BYTES = 1024 * 1024
# Unsent bytes in the transport above which send() waits and direct writes queue instead
# (Sanic's protocol sets the transport's write limits to 16/64 KiB: pause_writing comes there).
SEND_HIGH_WATER = 64 * 1024
# SO_LINGER on, 0 seconds: close() resets the connection and drops what the kernel still holds.
_RESET = struct.pack("ii", 1, 0)


class ConnectionClosed(OSError):
    """The websocket is closed (engineio ends a session on OSError)."""


class ServerWebSocket:
    """One accepted websocket: reads the peer's frames, queues its messages, writes ours.

    The Sanic protocol (core.transport.http.ChatProtocol) forwards data_received, eof_received,
    connection_lost, pause_writing and resume_writing to it, calls end_connection() when the
    handler is done and reads `ws_proto.state` and `loop` at shutdown.
    """

    __slots__ = ("proto", "transport", "loop", "policy", "queue", "_inbox", "_inbox_bytes", "_waiter",
                 "_reading_paused", "_writing_paused", "_drain", "_closed", "_lost", "_bucket",
                 "_close_timer")

    def __init__(self, transport, max_size: int, policy: TransportPolicy):
        self.proto = ServerProtocol(max_size, policy.max_fragments)
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.policy = policy
        self.queue = None  # the Engine.IO queue whose packets go out here (its bytes count too)
        self._inbox: list = []  # short (reading pauses at INBOX_HIGH), so a list, not a deque
        self._inbox_bytes = 0
        self._waiter: asyncio.Future | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._drain: asyncio.Future | None = None  # a send() waiting for the peer to read
        self._lost = False  # connection_lost() came
        self._closed: asyncio.Event | None = None  # created by wait_closed() when someone waits
        self._bucket: PingMeter | None = None  # made at the first ping (browsers send none)
        self._close_timer: asyncio.TimerHandle | None = None

    # ---- what the peer sends ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            self._received(data)
        except Exception:
            # A bug on our side (the peer's mistakes are ProtocolErrors, handled below): its
            # traceback, and 1011 to the peer, instead of the event loop's "fatal error on transport".
            log.exception("websocket from %s: internal error while reading", self.peer)
            self.internal_error()

    def _received(self, data: bytes) -> None:
        proto = self.proto
        if proto.state is State.CLOSED or proto.error is not None:
            return
        proto.room = self.policy.budget - self._inbox_bytes - self.backlog()
        pings = proto.pings
        proto.pong_credit = pong_credit(self._bucket, self.policy, self.transport.get_write_buffer_size(),
                                        self.loop.time)
        proto.receive_data(data)
        if proto.pings != pings:
            self._meter(proto.pings - pings)
        events = proto.events_received()
        if events:
            self._deliver(events)
        out = proto.data_to_send()
        if out:
            self.write(out[0] if len(out) == 1 else b"".join(out))
        if proto.state is State.CLOSED:
            self._finish()  # the peer's close, echoed
        elif proto.error is not None:
            self._protocol_error()

    def _deliver(self, events: list) -> None:
        inbox = self._inbox
        inbox.extend(events)
        for message in events:
            self._inbox_bytes += len(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (len(inbox) >= INBOX_HIGH or self._inbox_bytes >= INBOX_HIGH_BYTES) and not self._reading_paused:
            self._pause_reading()  # the session is behind: let TCP push back on the peer

    def admit_control(self) -> bool:
        """Charge one Engine.IO ping (or other non-message packet) like a websocket ping."""
        return self._meter(1)

    def _meter(self, received: int) -> bool:
        """Charge pings and pongs to the connection's bucket (core.transport.pings); False when
        they were over it. A flood closes the connection (1008)."""
        now = self.loop.time()
        meter = self._bucket
        if meter is None:
            meter = self._bucket = PingMeter(self.policy.control_burst, now)
        if meter.charge(self.policy, now, received, self.peer):
            self._close_now(CLOSE_POLICY, "too many pings")
        return meter.streak == 0

    def _protocol_error(self) -> None:
        """The peer broke the protocol: stop reading, let the session answer what came before."""
        error = self.proto.error
        self.policy.count("oversized_messages" if error.code == CLOSE_TOO_BIG else "protocol_errors")
        log.warning("closing websocket from %s: %s", self.peer, error)
        if not self._reading_paused:
            self._pause_reading()
        self._wake()  # recv() raises once the messages before the error are taken
        # A session that does not come to close it (none yet, or stuck) is not waited for.
        self._close_timer = self.loop.call_later(self.policy.close_timeout, self._close_now)

    def _close_now(self, code: int | None = None, reason: str = "") -> None:
        """Send the close frame (the protocol error's code by default) and close the connection."""
        proto = self.proto
        if proto.state is State.CLOSED:
            return
        proto.fail(code, reason)
        for data in proto.data_to_send():
            self.write(data)
        self._finish()

    def _finish(self) -> None:
        """Stop reading and close the TCP connection once what is written has gone out."""
        self.proto.reset()
        self._close_transport()
        self._wake()

    def _close_transport(self) -> None:
        transport = self.transport
        if not transport.is_closing():
            if self._close_timer is not None:
                self._close_timer.cancel()
            transport.close()
            # A peer that reads nothing never lets the buffered bytes out: drop it after a while.
            self._close_timer = self.loop.call_later(self.policy.close_timeout, self.abort)

    def abort(self) -> None:
        """Drop the TCP connection now, with what is unsent (a cut-off or unresponsive peer)."""
        self._close_timer = None
        self.proto.connection_lost()
        if not self._lost:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # A reset: a plain close would leave the kernel sending its buffer to a peer that
                # does not read, the connection open for as long as the peer wants.
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                except OSError:
                    pass
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._closed is not None and self.proto.state is State.CLOSED:
            self._closed.set()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)  # a send() waiting for the peer to read gives up (the state says why)

    def _pause_reading(self) -> None:
        self._reading_paused = True
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        self._reading_paused = False
        if self.proto.state is not State.CLOSED and not self.transport.is_closing():
            self.transport.resume_reading()

    def _may_read(self) -> bool:
        return not self._writing_paused and len(self._inbox) <= INBOX_LOW and \
            self._inbox_bytes < INBOX_HIGH_BYTES and self.proto.error is None

    @property
    def ws_proto(self) -> ServerProtocol:
        """What Sanic's WebSocketProtocol reads `.state` from."""
        return self.proto

    @property
    def closed(self) -> bool:
        return self.proto.state is State.CLOSED

    @property
    def open(self) -> bool:
        return self.proto.state is State.OPEN and not self._lost

    @property
    def close_code(self) -> int | None:
        return self.proto.close_code

    @property
    def peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unknown peer"

    async def recv(self) -> str | bytes:
        """The next message from the peer; ConnectionClosed once the websocket is closed."""
        inbox = self._inbox
        while not inbox:
            if not self.proto.open or self._lost:
                raise ConnectionClosed(f"websocket closed ({self.close_code or self.proto.error})")
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = inbox.pop(0)
        self._inbox_bytes -= len(message)
        if self._reading_paused and self._may_read():
            self._resume_reading()
        return message

    # ---- what we send ---------------------------------------------------------------------------

    def serve_queue(self, queue) -> None:
        """Count an Engine.IO queue's bytes with this socket's (one backlog, one budget)."""
        self.queue = queue
        queue.link = self

    def buffered(self) -> int:
        """Bytes written that the peer has not taken yet."""
        return self.transport.get_write_buffer_size()

    def backlog(self) -> int:
        """What waits to reach the peer: the transport's unsent bytes and the session's queue."""
        queue = self.queue
        return self.transport.get_write_buffer_size() + (queue.nbytes if queue is not None else 0)

    def write(self, data: bytes) -> None:
        """Write bytes that are already websocket frames."""
        transport = self.transport
        if not transport.is_closing():
            transport.write(data)
            queue = self.queue
            if queue is not None and transport.get_write_buffer_size() > self.policy.high:
                self.policy.check(queue)

    def can_write_now(self) -> bool:
        """Whether a frame written now goes out in order, without piling up behind a slow reader."""
        return self.proto.state is State.OPEN and not self.transport.is_closing() and \
            self.transport.get_write_buffer_size() <= SEND_HIGH_WATER

    def pause_writing(self) -> None:
        """The peer is not reading (over 64 KiB unsent): stop reading from it too."""
        self._writing_paused = True
        if not self._reading_paused:
            self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        if self._reading_paused and self._may_read():
            self._resume_reading()

    async def send(self, message: str | bytes) -> None:
        """Send one message, waiting while the peer is not reading what we already sent."""
        if self.proto.state is not State.OPEN or self._lost:
            raise ConnectionClosed(f"websocket closed ({self.close_code})")
        if message.__class__ is str:
            self.write(frame(OP_TEXT, message.encode("utf-8")))
        else:
            self.write(frame(OP_BINARY, message))
        if self._writing_paused:
            await self._drained()

    async def _drained(self) -> None:
        while self._writing_paused and self.proto.state is State.OPEN and not self._lost:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if self.proto.state is not State.OPEN or self._lost:
            raise ConnectionClosed(f"websocket closed ({self.close_code})")

    async def close(self, code: int | None = CLOSE_NORMAL) -> None:
        """Send a close frame (code None: without a status code) and wait (briefly) for the
        peer's, then drop the connection.

        After a protocol error the close carries the error's code (1002, 1007, 1009) instead.
        """
        proto = self.proto
        if proto.error is not None:
            self._close_now()
        elif proto.state is State.OPEN and not self._lost:
            proto.send_close(code)
            for data in proto.data_to_send():
                self.write(data)
            if self._reading_paused:
                self._reading_paused = False  # the peer's close frame is behind what we stopped reading
                if not self.transport.is_closing():
                    self.transport.resume_reading()
            try:
                await asyncio.wait_for(self.wait_closed(), self.policy.close_timeout)
            except asyncio.TimeoutError:
                pass
        self.end_connection(code)

    async def wait_closed(self) -> None:
        if self.proto.state is State.CLOSED:
            return
        if self._closed is None:
            self._closed = asyncio.Event()
        await self._closed.wait()

    def end_connection(self, code: int = CLOSE_GOING_AWAY) -> None:
        """Close now (Sanic calls this when the handler is done and at shutdown)."""
        if self.proto.state is not State.CLOSED:
            self._close_now(code)

    def internal_error(self) -> None:
        """A bug on our side ended the session: close with 1011, never blamed on the peer."""
        self.policy.count("internal_errors")
        self._close_now(CLOSE_INTERNAL_ERROR, "internal error")

    def fail_connection(self, code: int = 1006, reason: str = "") -> bool:
        """Drop the connection now (Sanic calls this at shutdown for what is still open)."""
        self.abort()
        return True

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost follows

    def connection_lost(self, exc) -> None:
        self._lost = True
        self.proto.connection_lost()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        queue = self.queue
        if queue is not None and queue.link is self:
            queue.link = None  # no reference back from the queue to a closed socket
        self.queue = None
        self._wake()

"""The direct-write fast path: ready websocket frames go straight to a socket when nothing waits ahead.

Server-to-client frames are not masked, so core.sio.fanout builds a broadcast's frame once and
hands it to every recipient's `DirectWriter.write_frame()`; a session's own packets (connect
answer, acks, pings) go through `write_packet()` as the sink of its queue. Either declines
(returns False) when the frame could overtake something: packets queued for the session's
writer, a send() waiting for the peer, a closing session, or a peer that is not reading (over
64 KiB unsent). Declined frames take the ordinary path (the queue), so order and backpressure
hold. `DirectWrites` is the one switch (server.fast_fanout), the registry by Engine.IO sid and
the once-per-loop-iteration flush.
"""

from __future__ import annotations

import asyncio

from core.protocol.frames import OP_BINARY, frame, text_frame


class DirectWriter:
    """What engineio's writer and core.sio.fanout write through for one websocket session."""

    __slots__ = ("ws", "session", "hub", "_queued", "_pending", "_sending")

    def __init__(self, ws, session, hub: "DirectWrites"):
        self.ws = ws  # core.transport.websocket.ServerWebSocket
        self.session = session  # the engineio socket (its queue, closing/closed flags)
        self.hub = hub
        self._queued = session.queue.items if session is not None else ()  # the same list, always
        self._pending: list[bytes] | None = None  # frames collected during this loop iteration
        self._sending = 0  # send() calls waiting for the peer

    def write_frame(self, data: bytes) -> bool:
        """Write a ready websocket frame now if nothing can be in flight ahead of it."""
        if self._queued:
            return False  # packets queued for the writer go first
        pending = self._pending
        if pending is not None:  # checked below earlier in this loop iteration
            pending.append(data)
            return True
        session = self.session
        if self._sending or session.closing or session.closed or not self.ws.can_write_now():
            return False
        self._pending = [data]
        self.hub.schedule(self)
        return True

    def write_packet(self, pkt) -> bool:
        """Write one of the session's own packets now, if nothing is in flight ahead of it (the
        queue's writer task would cost two event-loop turns)."""
        if self._sending or self.session.closed or not self.ws.can_write_now():
            return False
        self.flush()  # broadcast frames collected before it go first
        data = pkt.encode()
        self.ws.write(text_frame(data.encode()) if data.__class__ is str else frame(OP_BINARY, data))
        return True

    def flush(self) -> None:
        """Write the frames collected during this loop iteration, in one call."""
        frames, self._pending = self._pending, None
        if frames and self.ws.open:  # nothing after our close frame
            self.ws.write(frames[0] if len(frames) == 1 else b"".join(frames))

    async def send(self, message: str | bytes) -> None:
        """Send through the websocket, after what write_frame() collected."""
        self.flush()
        self._sending += 1
        try:
            await self.ws.send(message)
        finally:
            self._sending -= 1

    async def close(self) -> None:
        self.flush()
        await self.ws.close()


class DirectWrites:
    """One server's direct-write fast path: on or off, its writers by Engine.IO sid, the flusher."""

    __slots__ = ("enabled", "writers", "_waiting")

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.writers: dict[str, DirectWriter] = {}  # core.sio.fanout reads it once per broadcast
        self._waiting: list[DirectWriter] = []

    def attach(self, sid: str, writer: DirectWriter) -> None:
        """Let broadcasts and the session's own packets be written straight to this session."""
        if self.enabled:
            self.writers[sid] = writer
            writer.session.queue.sink = writer.write_packet

    def detach(self, sid: str, writer: DirectWriter) -> None:
        if self.writers.get(sid) is writer:
            del self.writers[sid]
        if writer.session is not None:
            writer.session.queue.sink = None

    def schedule(self, writer: DirectWriter) -> None:
        """Flush writer after the current batch of callbacks: several frames, one write."""
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._flush_all)
        self._waiting.append(writer)

    def _flush_all(self) -> None:
        waiting, self._waiting = self._waiting, []
        for writer in waiting:
            writer.flush()

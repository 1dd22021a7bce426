"""Sanic's HTTP protocol with a deadline on the whole request head, handing upgraded bytes on.

Sanic restarts its request timer on every chunk received, so a client sending one header line
every few seconds (slowloris) holds a connection forever. Here the timer runs from the first
byte of a request until its head is complete (`REQUEST_TIMEOUT`, set from
server.handshake_timeout by core.sio.binding), however the head trickles in. Once a websocket
has taken the connection over (core.transport.upgrade), the writing pauses and resumes the
transport reports reach it too: a peer that does not read is not read from either.
"""

from __future__ import annotations

import logging
from time import monotonic

from sanic.http.constants import Stage
from sanic.server.protocols.websocket_protocol import WebSocketProtocol

log = logging.getLogger("chat.transport")


class ChatProtocol(WebSocketProtocol):
    """WebSocketProtocol whose request-head timer is not restarted by every chunk."""

    __slots__ = ("_own_http",)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Sanic does not wait for its connection tasks at shutdown: one still unwinding after
        # the abort would be destroyed pending. In the server's task set, shutdown awaits it.
        tasks = getattr(self.app.ctx, "tasks", None)
        if tasks is not None and self._task is not None:
            tasks.add(self._task)

    def _setup_connection(self, *args, **kwargs) -> None:
        super()._setup_connection(*args, **kwargs)
        self._own_http = self._http

    async def connection_task(self) -> None:
        try:
            await super().connection_task()
        finally:
            # Sanic's Http keeps a bound method of itself (response_func) and its last request,
            # which points back at it: cycles that hold this protocol, its transport and the
            # request until a full collection. Broken here, they are freed when the connection ends.
            http = getattr(self, "_own_http", None)
            self._own_http = None
            if http is not None:
                request = http.request
                http.response_func = None
                http.request = None
                if request is not None:
                    request.stream = None

    def data_received(self, data: bytes) -> None:
        websocket = self.websocket
        if websocket is not None:
            websocket.data_received(data)
            return
        http = getattr(self, "_http", None)  # set once the connection task runs
        if http is not None and http.stage is Stage.REQUEST:
            started = self._time  # when the head's first bytes came (Sanic resets it below)
            super().data_received(data)
            self._time = started
        else:
            super().data_received(data)

    def check_timeouts(self) -> None:
        http = getattr(self, "_http", None)
        if self._task and http is not None and http.stage is Stage.REQUEST and \
                monotonic() - self._time > self.request_timeout:
            # Sanic answers 408 and closes; counted and logged here, once per connection.
            sio = getattr(self.app.ctx, "sio", None)
            policy = getattr(getattr(sio, "eio", None), "transport_policy", None)
            if policy is not None:
                policy.count("handshake_timeouts")
            peer = self.transport.get_extra_info("peername") if self.transport else None
            log.info("closing connection from %s: request head not complete within %gs",
                     peer[0] if isinstance(peer, tuple) else "unknown peer", self.request_timeout)
        super().check_timeouts()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.websocket is not None:
            self.websocket.pause_writing()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.websocket is not None:
            self.websocket.resume_writing()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self.websocket = None  # the websocket may outlive the connection in a session: no way back

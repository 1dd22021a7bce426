"""The one place python-socketio meets Sanic: an Engine.IO driver on Sanic's HTTP and websocket APIs.

Why not engineio's own `async_mode="sanic"` driver: it answers an HTTP response into an
upgraded socket when a websocket ends (`write() after write_eof()`, a 500 on a bad packet),
reports every client as 127.0.0.1, has a websocket size limit separate from
`max_http_buffer_size`, and leaves tasks pending at shutdown. This driver fixes each of those.
After the HTTP upgrade the websocket is core.transport.websocket's, not Sanic's (docs/performance.md).
"""

from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse, text

from core.base.tasks import TaskSet
from core.sio.driver import (UPGRADED, SanicWebSocket, close_websocket, make_response, translate_request,
                             valid_polling_body)
from core.sio.held_queue import HoldingQueue
from core.sio.internals import (EngineIOAdapter, cut_session, drop_session, max_payload,
                                poll_ended, reachable_sessions)
from core.sio.refusals import CLOSE_AFTER_ACCEPT, check_request, node_refusal
from core.transport.budget import TransportPolicy
from core.transport.direct import DirectWrites
from core.transport.upgrade import refusal
from core.base.settings import ServerSettings
from core.sio.internals import RecoveringServer
from core.sio.server import ProtectedServer

log = logging.getLogger("chat.binding")

# Room for Engine.IO/Socket.IO framing around a message of max_message_size bytes.
FRAMING_OVERHEAD = 1024
# Most bytes JSON escaping turns one byte of UTF-8 into ("\u0001").
JSON_ESCAPE_FACTOR = 6
# Packets one long-polling POST may carry.
MAX_PACKETS_PER_POST = 5000



_DRIVER = {
    "asyncio": True,
    "create_route": None,  # routes are added by bind() below
    "translate_request": translate_request,
    "make_response": make_response,
    "websocket": SanicWebSocket,
}


class EngineServer(EngineIOAdapter):
    """engineio's server with this module's Sanic driver in place of the upstream one."""

    def __init__(self, **kwargs):
        super().__init__(_DRIVER, **kwargs)
        # The direct-write fast path (core.sio.fanout, core.sio.session) and the per-connection
        # bounds every websocket and queue shares; core.sio.binding.bind() configures both.
        self.direct = DirectWrites()
        self.transport_policy = TransportPolicy()
        # Every task engineio, python-socketio and core.sio start goes through
        # start_background_task; shutdown cancels exactly these (core.base.tasks).
        self.tasks = TaskSet()
        # engineio drops (with a traceback) polling POSTs of more than 16 packets, and
        # socket.io-client batches every emit made while a POST is in flight; the byte limit
        # bounds a payload anyway.
        self.allow_packets_per_payload(MAX_PACKETS_PER_POST)

    def start_background_task(self, target, *args, **kwargs):
        return self.tasks.add(super().start_background_task(target, *args, **kwargs))

    def create_queue(self, *args, **kwargs):
        # One per connection (asyncio.Queue is several times its size); it can hold what is sent
        # while a namespace connect is decided (core.sio.internals.OutputHold).
        return HoldingQueue(self.transport_policy)

    async def disconnect(self, sid=None):
        """Close sessions without waiting for a poll that may never come (upstream can hang)."""
        for eio_sid in [sid] if sid is not None else list(self.sockets):
            await drop_session(self, eio_sid)


class SocketServer(RecoveringServer, ProtectedServer):
    """python-socketio's server (with the protections of core.sio.server and connection-state
    recovery, core.sio.recovery) on EngineServer."""

    engine_class = EngineServer

    def track_tasks(self, tasks: TaskSet) -> None:
        """Keep the tasks engineio and python-socketio start in tasks (cancelled at shutdown)."""
        self.eio.tasks = tasks


def transport_limit(server: ServerSettings) -> int:
    """Bytes a polling body or websocket message may have, as the handshake advertises (maxPayload).

    `max_payload` when configured; otherwise room for a value of max_message_size as the wire
    may carry it JSON-escaped (\u00e9 is 6 bytes for 2 of UTF-8, as python-socketio's client
    sends it), so the handlers can measure each value exactly (core.api.params.any_json).
    """
    if server.max_payload is not None:
        return server.max_payload
    return server.max_message_size * JSON_ESCAPE_FACTOR + FRAMING_OVERHEAD


def transport_policy(server: ServerSettings, frame_limit: int) -> TransportPolicy:
    """The per-connection bounds of server's settings; the budget always fits the largest frame."""
    rate = server.rate_limit
    return TransportPolicy(budget=max(server.connection_budget, frame_limit + FRAMING_OVERHEAD),
                           slow_client_timeout=server.slow_client_timeout,
                           close_timeout=server.close_timeout,
                           handshake_timeout=server.handshake_timeout,
                           max_fragments=server.max_fragments,
                           control_rate=rate.messages_per_second, control_burst=rate.burst,
                           control_disconnect_after=rate.disconnect_after)


def bind(app: Sanic, sio: SocketServer, server: ServerSettings, path: str = "socket.io") -> None:
    """Serve sio at /<path>/ on app, with one size limit and a clean shutdown."""
    # One limit for both transports: checked below for polling bodies (Sanic refuses still bigger
    # ones), by core.transport.websocket for websocket messages (1009).
    limit = transport_limit(server)
    eio = sio.eio
    eio.max_http_buffer_size = limit
    eio.direct.enabled = server.fast_fanout
    policy = eio.transport_policy = transport_policy(server, limit)
    policy.on_cut = lambda queue: cut_session(eio, queue)
    # The request head's deadline (core.transport.http.ChatProtocol keeps trickling from resetting it).
    app.config.REQUEST_TIMEOUT = server.handshake_timeout
    app.config.REQUEST_MAX_SIZE = max(limit, 64 * 1024)
    # Sanic's websocket protocol class hands an upgraded connection's bytes to core.transport.websocket;
    # Sanic's own websocket (and its size limit and pings) is never created.
    app.enable_websocket()

    async def engineio_endpoint(request: Request):
        refused = check_request(eio, request) if request.method != "OPTIONS" else None
        if refused == CLOSE_AFTER_ACCEPT:
            bad_upgrade = refusal(request, policy)
            if bad_upgrade is not None:
                return bad_upgrade
            await close_websocket(request, max_payload(eio), policy)
            return None
        if refused is not None:
            return await node_refusal(eio, request, refused)
        sid = request.args.get("sid")
        if request.method == "GET" and request.args.get("transport") == "websocket":
            bad_upgrade = refusal(request, policy)  # before engineio opens a session for it
            if bad_upgrade is not None:
                return bad_upgrade
        if request.method == "POST" and sid:
            answer = await check_post(request, sid)
            if answer is not None:
                return answer
        elif request.method == "GET" and sid and "upgrade" not in request.headers:
            return await poll(request, sid)
        result = await eio.handle_request(request)
        return None if result is UPGRADED else result

    async def check_post(request: Request, sid: str) -> HTTPResponse | None:
        """Node's answers to a POST that ends its session (None: engineio handles it)."""
        body = request.body or b""
        address = request.remote_addr or request.ip
        if len(body) > limit:
            log.warning("closing connection from %s: polling body of %d bytes (at most %d)",
                        address, len(body), limit)
            await drop_session(eio, sid, eio.reason.TRANSPORT_ERROR)
            return HTTPResponse(status=413)
        if request.headers.get("content-type", "").startswith("application/octet-stream"):
            # Engine.IO 4 sends binary as base64 in text payloads; Node refuses binary bodies.
            log.warning("closing connection from %s: binary polling body", address)
            await drop_session(eio, sid, eio.reason.TRANSPORT_ERROR)
            return HTTPResponse(status=400)
        if not valid_polling_body(body):
            # engineio would log a traceback, answer 200 and keep the session; Node answers
            # 200 "ok" and closes it.
            log.warning("closing connection from %s: invalid Engine.IO payload %r", address, body[:40])
            await drop_session(eio, sid, eio.reason.TRANSPORT_ERROR)
            return make_response("200 OK", [("Content-Type", "text/plain")], b"OK",
                                 {"REQUEST_METHOD": "POST"})
        return None

    async def poll(request: Request, sid: str):
        """A long-poll GET; a second one while the first waits closes the session, as in Node."""
        if sid in eio.waiting_polls:
            log.warning("closing connection from %s: overlapping long-poll requests",
                        request.remote_addr or request.ip)
            await drop_session(eio, sid, eio.reason.TRANSPORT_ERROR)  # the waiting GET gets CLOSE
            return HTTPResponse(status=400)
        eio.waiting_polls.add(sid)
        try:
            return await eio.handle_request(request)
        finally:
            eio.waiting_polls.discard(sid)
            poll_ended(eio, sid)

    async def request_too_large(request: Request, exception: PayloadTooLarge):
        # Sanic refuses the body before engineio sees it; end that session as Node does.
        sid = request.args.get("sid") if request.path == f"/{path}/" else None
        if sid and await drop_session(eio, sid, eio.reason.TRANSPORT_ERROR):
            log.warning("closing connection from %s: polling request over %d bytes",
                        request.remote_addr or request.ip, app.config.REQUEST_MAX_SIZE)
        return text("request too large", status=413)

    app.error_handler.add(PayloadTooLarge, request_too_large)

    # Sanic only lets a handler end without a response when it is marked as a websocket handler.
    engineio_endpoint.is_websocket = True
    # Every method reaches the endpoint: Node answers an unsupported one with 400, not 405.
    app.add_route(engineio_endpoint, f"/{path}/",
                  methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD"], name="engineio")

    async def stop_socketio(app: Sanic):
        # An Engine.IO close (not a Socket.IO disconnect), so clients reconnect when we are back.
        told, unreachable = reachable_sessions(eio)
        await eio.disconnect()
        log.info("told %d client%s the server is stopping%s", told, "" if told == 1 else "s",
                 f" ({unreachable} polling session{'' if unreachable == 1 else 's'} without a waiting "
                 f"request closed: their clients had gone, or hear it on their next poll)" if unreachable else "")
        await sio.shutdown()

    async def finish_tasks(app: Sanic):
        # Tasks still waiting (ping timers, session writers a peer never let finish, event
        # deliveries) are cancelled so that none is destroyed pending; only the server's own.
        await eio.tasks.cancel_all(timeout=1.0)

    app.register_listener(stop_socketio, "before_server_stop")
    app.register_listener(finish_tasks, "after_server_stop")

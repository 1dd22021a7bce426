"""The one place python-socketio meets Sanic: an Engine.IO driver on Sanic's HTTP and websocket APIs.

Why not engineio's own `async_mode="sanic"` driver: it answers an HTTP response into an
upgraded socket when a websocket ends (`write() after write_eof()`, a 500 on a bad packet),
reports every client as 127.0.0.1, has a websocket size limit separate from
`max_http_buffer_size`, and leaves tasks pending at shutdown. This driver fixes each of those.
After the HTTP upgrade the websocket is core.transport.websocket's, not Sanic's (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging

import engineio
from engineio import payload as eio_payload
from sanic import Request, Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.response import text

from core.base.tasks import TaskSet
from core.sio.driver import UPGRADED, SanicWebSocket, make_response, translate_request, valid_polling_body
from core.sio.session import cut_session
from core.transport.budget import TransportPolicy
from core.transport.direct import DirectWrites
from core.transport.lean_queue import LeanQueue
from core.transport.upgrade import refusal
from core.base.settings import ServerSettings
from core.sio.server import ProtectedServer, drop_session

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


class EngineServer(engineio.AsyncServer):
    """engineio's server with this module's Sanic driver in place of the upstream one."""

    def __init__(self, **kwargs):
        kwargs["async_mode"] = "asgi"  # any built-in asyncio mode; its driver is replaced below
        super().__init__(**kwargs)
        self._async = _DRIVER
        self.async_mode = "sanic"
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
        eio_payload.Payload.max_decode_packets = MAX_PACKETS_PER_POST

    async def _trigger_event(self, event, *args, **kwargs):
        ret = await super()._trigger_event(event, *args, **kwargs)
        if event == "disconnect":
            sock = self.sockets.get(args[0])
            if sock is not None and sock.upgraded:
                # engineio closes a session (ping timeout, the client's close packet) without
                # telling its websocket writer; None ends the writer after what close() still
                # queues synchronously (the CLOSE packet), so it runs on the next loop turn.
                asyncio.get_running_loop().call_soon(sock.queue.put_nowait, None)
        return ret

    def start_background_task(self, target, *args, **kwargs):
        return self.tasks.add(super().start_background_task(target, *args, **kwargs))

    def create_queue(self, *args, **kwargs):
        return LeanQueue(self.transport_policy)  # one per connection: asyncio.Queue is several times its size

    async def disconnect(self, sid=None):
        """Close sessions without waiting for a poll that may never come (upstream can hang)."""
        for eio_sid in [sid] if sid is not None else list(self.sockets):
            await drop_session(self, eio_sid)


class SocketServer(ProtectedServer):
    """python-socketio's server (with the protections of core.sio.server) on EngineServer."""

    def _engineio_server_class(self):
        return EngineServer

    def track_tasks(self, tasks: TaskSet) -> None:
        """Keep the tasks engineio and python-socketio start in tasks (cancelled at shutdown)."""
        self.eio.tasks = tasks


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
    # One limit for both transports: engineio checks polling bodies against
    # max_http_buffer_size, core.transport.websocket refuses bigger websocket messages (1009), and Sanic
    # refuses bigger request bodies.
    # The wire may carry a value JSON-escaped (\u00e9 is 6 bytes for 2 of UTF-8, as
    # python-socketio's client sends it), so the transports allow the worst case and the
    # handlers measure each value exactly, as compact UTF-8 JSON (core.api.params.any_json).
    limit = server.max_message_size * JSON_ESCAPE_FACTOR + FRAMING_OVERHEAD
    sio.eio.max_http_buffer_size = limit
    sio.eio.direct.enabled = server.fast_fanout
    policy = sio.eio.transport_policy = transport_policy(server, limit)
    policy.on_cut = lambda queue: cut_session(sio.eio, queue)
    # The request head's deadline (core.transport.http.ChatProtocol keeps trickling from resetting it).
    app.config.REQUEST_TIMEOUT = server.handshake_timeout
    app.config.REQUEST_MAX_SIZE = max(limit, 64 * 1024)
    # Sanic's websocket protocol class hands an upgraded connection's bytes to core.transport.websocket;
    # Sanic's own websocket (and its size limit and pings) is never created.
    app.enable_websocket()

    async def engineio_endpoint(request: Request):
        sid = request.args.get("sid")
        if request.method == "GET" and request.args.get("transport") == "websocket":
            refused = refusal(request, policy)  # before engineio opens a session for it
            if refused is not None:
                return refused
        if request.method == "POST" and sid and not valid_polling_body(request.body or b""):
            # engineio would log a traceback, answer 200 and keep the session.
            log.warning("closing connection from %s: invalid Engine.IO payload %r",
                        request.remote_addr or request.ip, (request.body or b"")[:40])
            await drop_session(sio.eio, sid)
            return text("invalid payload", status=400)
        result = await sio.eio.handle_request(request)
        return None if result is UPGRADED else result

    async def request_too_large(request: Request, exception: PayloadTooLarge):
        # Sanic refuses the body before engineio sees it; end that session as engineio would.
        sid = request.args.get("sid") if request.path == f"/{path}/" else None
        if sid and await drop_session(sio.eio, sid):
            log.warning("closing connection from %s: polling request over %d bytes",
                        request.remote_addr or request.ip, app.config.REQUEST_MAX_SIZE)
        return text("request too large", status=413)

    app.error_handler.add(PayloadTooLarge, request_too_large)

    # Sanic only lets a handler end without a response when it is marked as a websocket handler.
    engineio_endpoint.is_websocket = True
    app.add_route(engineio_endpoint, f"/{path}/", methods=["GET", "POST", "OPTIONS"],
                  name="engineio")

    async def stop_socketio(app: Sanic):
        # An Engine.IO close (not a Socket.IO disconnect), so clients reconnect when we are back.
        closed = len(sio.eio.sockets)
        await sio.eio.disconnect()
        log.info("told %d client%s the server is stopping", closed, "" if closed == 1 else "s")
        await sio.shutdown()

    async def finish_tasks(app: Sanic):
        # Tasks still waiting (ping timers, session writers a peer never let finish, event
        # deliveries) are cancelled so that none is destroyed pending; only the server's own.
        await sio.eio.tasks.cancel_all(timeout=1.0)

    app.register_listener(stop_socketio, "before_server_stop")
    app.register_listener(finish_tasks, "after_server_stop")

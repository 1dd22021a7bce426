"""Every use of python-engineio's and python-socketio's private internals, in this one module.

Upstream documents the servers' constructor options and public methods; everything else the chat
needs (the session table, a socket's queue and flags, the connect sequence, the message hook) is
reached from here only. Both packages are pinned (requirements.txt) and
tests/core/sio/test_internals.py fails loudly when an upgrade changes what this module relies on.
Elsewhere, core code calls the functions and base classes below instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time

import engineio
import socketio
from engineio import async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from socketio import exceptions as sio_exceptions
from socketio import packet as sio_packet
from socketio.base_manager import BaseManager

from core.sio.held_queue import OutputHold, without_namespace

log = logging.getLogger("chat.socket")

# The versions this module was written against (requirements.txt pins them).
ENGINEIO_VERSION = "4.15.1"
SOCKETIO_VERSION = "5.18.1"

# What the CONNECT_ERROR of an unknown namespace says (Node's socket.io words it so).
INVALID_NAMESPACE = {"message": "Invalid namespace"}
INTERNAL_ERROR = {"message": "internal error"}


# Engine.IO sessions ---------------------------------------------------------------------------------


def sessions(eio) -> dict:
    """engineio's session table: Engine.IO sid -> socket (read it, do not change it)."""
    return eio.sockets


def session_count(eio) -> int:
    return len(eio.sockets)


def transport_of(sio, sid: str, namespace: str = "/") -> str:
    """"websocket" or "polling" for a connected Socket.IO sid ("" when its session is gone)."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, namespace)
    sock = sio.eio.sockets.get(eio_sid) if eio_sid else None
    return "" if sock is None else ("websocket" if sock.upgraded else "polling")


def sessions_by_transport(eio) -> dict:
    """Open Engine.IO sessions counted by transport: {"websocket": n, "polling": m}."""
    websocket = sum(1 for sock in eio.sockets.values() if sock.upgraded)
    return {"websocket": websocket, "polling": len(eio.sockets) - websocket}


# A live polling client sends its next GET within moments of the previous answer.
POLL_GAP = 1.0


def poll_ended(eio, sid: str) -> None:
    """Note when a session's long-poll GET was answered (for reachable_sessions)."""
    sock = eio.sockets.get(sid)
    if sock is not None:
        sock.chat_poll_ended = time.monotonic()


def reachable_sessions(eio) -> tuple[int, int]:
    """(open sessions a close reaches: websockets and live polls, polling sessions whose client is gone).

    A polling session whose client went away (a closed tab) has no GET waiting and has had none
    for a while; it is only forgotten at its ping timeout.
    """
    reachable = unreachable = 0
    now = time.monotonic()
    for sid, sock in eio.sockets.items():
        if sock.closed:
            continue
        if sock.upgraded or sid in eio.waiting_polls or \
                now - getattr(sock, "chat_poll_ended", 0.0) < POLL_GAP:
            reachable += 1
        else:
            unreachable += 1
    return reachable, unreachable


def live_session(eio, sid: str):
    """The socket of an open session, or None (unknown, or closed and not yet forgotten)."""
    sock = eio.sockets.get(sid)
    return None if sock is None or sock.closed else sock


def open_queue(eio, sid: str):
    """The outgoing queue of a session that can still send, or None."""
    sock = eio.sockets.get(sid)
    if sock is None or sock.closed or sock.closing:
        return None
    return sock.queue


def session_queue(eio, sid: str):
    """A session's outgoing queue (open or not), or None when the session is unknown."""
    sock = eio.sockets.get(sid)
    return None if sock is None else sock.queue


def session_transport(sock) -> str:
    """The transport a session uses now: "websocket" once upgraded (or opened so), else "polling"."""
    return "websocket" if sock.upgraded else "polling"


def is_upgrading(sock) -> bool:
    """Whether a websocket has taken, or is taking, the session over from long-polling."""
    return sock.upgrading or sock.upgraded


def max_payload(eio) -> int:
    return eio.max_http_buffer_size


def transports(eio) -> list[str]:
    """The transports the server accepts."""
    return eio.transports


async def drop_session(eio, sid: str, reason: str | None = None) -> bool:
    """Send the Engine.IO close packet and end the session without waiting on the client."""
    sock = eio.sockets.get(sid)
    if sock is None:
        return False
    await sock.close(wait=False, reason=reason or eio.reason.SERVER_DISCONNECT)
    # The writer sends what is queued (the close packet last), then ends and closes the websocket.
    await sock.queue.put(None)
    eio.sockets.pop(sid, None)
    return True


def end_pending_poll(sock) -> None:
    """Answer a waiting long-poll GET with a NOOP (an upgrade is under way), as Node does.

    Only when a GET waits: a NOOP left in the queue would go out over the new websocket.
    """
    if sock.sid in sock.server.waiting_polls:
        sock.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


# The websocket session loop (core.sio.session) -------------------------------------------------------


def websocket_session(handler):
    """The engineio socket a websocket handler serves (engineio passes its bound method), or None."""
    return getattr(handler, "__self__", None)


async def abort_session(sock) -> None:
    """End a session at once, without a CLOSE packet (its websocket handshake failed)."""
    await sock.close(wait=False, abort=True)


def websocket_upgrades(sock) -> bool:
    """A websocket takes a session over: True when it upgrades a polling session (probe first);
    otherwise the session was opened on it and is marked connected and upgraded now."""
    if sock.connected:
        return True
    sock.connected = True
    sock.upgraded = True
    return False


async def upgrade_session(sock, ws, timeout: float) -> bool:
    """Finish a polling -> websocket upgrade (probe ping/pong, then the upgrade packet) in time."""
    sock.upgrading = True  # holds back direct writes until the upgrade is done
    try:
        async with asyncio.timeout(timeout):
            probe = eio_packet.Packet(encoded_packet=await ws.wait())
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                log.info("%s: websocket upgrade failed: no probe ping", sock.sid)
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            end_pending_poll(sock)  # a waiting long-poll GET gets a NOOP (and nothing is left over)
            upgrade = eio_packet.Packet(encoded_packet=await ws.wait())
        if upgrade.packet_type != eio_packet.UPGRADE:
            log.info("%s: websocket upgrade failed: expected the upgrade packet", sock.sid)
            return False
        sock.upgraded = True
        return True
    except TimeoutError:
        sock.server.transport_policy.count("probe_timeouts")
        log.info("%s: websocket upgrade failed: no probe and upgrade within %gs", sock.sid, timeout)
        return False
    except OSError:
        return False
    finally:
        sock.upgrading = False


def outgoing(sock):
    """A session's outgoing queue."""
    return sock.queue


def message_handler(eio):
    """engineio's "message" handler (python-socketio's), called with (sid, data)."""
    return eio.handlers.get("message")


async def receive_packet(sock, data) -> bool:
    """Hand a non-message packet to the session as engineio would; True when the session is over."""
    try:
        await sock.receive(eio_packet.Packet(encoded_packet=data))
    except eio_exceptions.UnknownPacketError:
        return False
    except eio_exceptions.SocketIsClosedError:
        return True
    return sock.closed  # the client's close packet


async def end_websocket_session(sock, writer, out) -> None:
    """After the read loop: detach the direct writer, let the writer task finish, close the session."""
    sock.server.direct.detach(sock.sid, out)
    await sock.queue.put(None)  # lets the writer finish what is queued, then close
    await writer
    await sock.close(wait=False, abort=True, reason=sock.server.reason.TRANSPORT_CLOSE)


def cut_session(eio, queue) -> None:
    """End the Engine.IO session whose queue a slow client let grow over its budget."""
    for sid, sock in list(eio.sockets.items()):
        if sock.queue is queue:
            eio.start_background_task(drop_session, eio, sid)
            return


class ChatSocket(async_socket.AsyncSocket):
    """engineio's socket with Node's heartbeat timing and Node's answer to a client's CLOSE.

    engineio sends each ping from a task of its own and finds a missing pong only when its
    monitor next passes (up to ping_timeout later, or never while nothing is sent); here one
    timer handle sends the ping after ping_interval and ends the session exactly ping_timeout
    later unless the pong came.
    """

    _timer: asyncio.TimerHandle | None = None

    def schedule_ping(self):
        if self.last_ping:  # as upstream: only after the previous ping was answered (or at open)
            self.last_ping = None
            self._restart_timer(self.server.ping_interval, self._ping)

    def _restart_timer(self, delay: float, callback) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _ping(self) -> None:
        self._timer = None
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))
        self._restart_timer(self.server.ping_timeout, self._pong_missing)

    def _pong_missing(self) -> None:
        self._timer = None
        if self.last_ping is not None and not self.closing and not self.closed:
            # abort=False: a CLOSE packet goes to whatever still listens (a waiting GET).
            self.server.start_background_task(self.close, wait=False, abort=False,
                                              reason=self.server.reason.PING_TIMEOUT)

    async def close(self, wait=True, abort=False, reason=None):
        was_open = not self.closed and not self.closing
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await super().close(wait=wait, abort=abort, reason=reason)
        if was_open and abort and not self.upgraded:
            # The client's CLOSE over polling: Node answers the waiting GET at once with a NOOP.
            self.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


class EngineIOAdapter(engineio.AsyncServer):
    """engineio's server on a driver of our own, with the handshake Node sends.

    `driver` is engineio's driver mapping (translate_request, make_response, websocket); the
    subclass keeps `waiting_polls` (sids with a long-poll GET in progress) up to date.
    """

    def __init__(self, driver: dict, **kwargs):
        kwargs["async_mode"] = "asgi"  # any built-in asyncio mode; its driver is replaced below
        super().__init__(**kwargs)
        self._async = driver
        self.async_mode = "sanic"
        self.waiting_polls: set[str] = set()

    @staticmethod
    def allow_packets_per_payload(count: int) -> None:
        """engineio drops (with a traceback) polling payloads of more packets than this."""
        eio_payload.Payload.max_decode_packets = count

    async def _handle_connect(self, environ, transport, jsonp_index=None):
        """Open a session (as upstream), advertising the configured values exactly, as Node does.

        Upstream advertises int(ping_interval) * 1000 (0 for a sub-second interval).
        """
        if self.start_service_task:  # engineio's monitor: forgets closed sessions
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)
        sid = self.generate_id()
        sock = ChatSocket(self, sid)
        self.sockets[sid] = sock
        # Key order as Node's: the packet is byte-for-byte the same.
        await sock.send(eio_packet.Packet(eio_packet.OPEN, {
            "sid": sid,
            "upgrades": self._upgrades(sid, transport),
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": self.max_http_buffer_size,
        }))
        refused = await self._trigger_event("connect", sid, environ, run_async=False)
        if refused is not None and refused is not True:
            del self.sockets[sid]
            return self._unauthorized(refused or None)
        sock.schedule_ping()
        if transport == "websocket":
            answer = await sock.handle_get_request(environ)
            if sock.closed:
                self.sockets.pop(sid, None)
            return answer
        sock.connected = True
        # (engineio's `cookie` option would add a Set-Cookie here; this server never sets it.)
        try:
            return self._ok(await sock.poll(), jsonp_index=jsonp_index)
        except eio_exceptions.QueueEmpty:
            return self._bad_request()

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

    async def respond(self, environ: dict, status: int, body: bytes, content_type: str):
        """A response of our own through engineio's, so it carries the same CORS headers."""
        return await self._make_response(
            {"status": str(status), "headers": [("Content-Type", content_type)], "response": body},
            environ)


# Socket.IO -------------------------------------------------------------------------------------------


class SocketIOAdapter(socketio.AsyncServer):
    """python-socketio's server with its private hooks routed to named methods of the subclass.

    The subclass (core.sio.server.ProtectedServer) decides policy in session_opened,
    session_closed, packet_failed and screen_event; this class owns the upstream plumbing,
    a fast path for the common event packet, and Node's connect sequence.
    """

    engine_class = engineio.AsyncServer  # the Engine.IO server class python-socketio creates

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._coroutine_handlers: set = set()

    def _engineio_server_class(self):
        return self.engine_class

    # Hooks for the subclass.
    def session_opened(self, eio_sid: str) -> None:
        """An Engine.IO session opened (before any namespace connect)."""

    def session_closed(self, eio_sid: str) -> None:
        """An Engine.IO session closed."""

    async def packet_failed(self, eio_sid: str, data, exc: Exception) -> None:
        """Decoding or dispatching a packet raised exc."""
        raise exc

    def handler_failed(self, event: str, namespace: str | None, exc: Exception):
        """A handler raised exc; what it returns is the ack (if the client asked for one)."""
        raise exc

    async def screen_event(self, eio_sid: str, namespace: str | None, ack_id, data) -> bool:
        """True when an event was answered here and must not reach its handlers."""
        return False

    def plain_event(self, data: str):
        """(ack id, args) of a common event packet, or None to let upstream decode it."""
        return None

    # Helpers for the subclass.
    def address(self, eio_sid: str) -> str:
        return (self.environ.get(eio_sid) or {}).get("REMOTE_ADDR", "unknown address")

    def joined_any_namespace(self, eio_sid: str) -> bool:
        return any(self.manager.sid_from_eio_sid(eio_sid, ns) for ns in list(self.manager.get_namespaces()))

    async def send_ack(self, eio_sid: str, namespace: str | None, ack_id: int, args: list) -> None:
        await self._send_packet(eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace,
                                                           id=ack_id, data=args))

    def serves(self, namespace: str) -> bool:
        """Whether a namespace has handlers (python-socketio's own test, minus "Unable to connect")."""
        return (namespace in self.handlers or namespace in self.namespace_handlers
                or self.namespaces == "*" or namespace in self.namespaces)

    # Upstream's private hooks.
    async def _handle_eio_connect(self, eio_sid, environ):
        await super()._handle_eio_connect(eio_sid, environ)
        self.session_opened(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid, reason):
        self.session_closed(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_eio_message(self, eio_sid, data):
        try:
            if data.__class__ is str and data[:1] == "2" and eio_sid not in self._binary_packet:
                event = self.plain_event(data)
                if event is not None:
                    await self._handle_event(eio_sid, None, event[0], event[1])
                    return
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            self._binary_packet.pop(eio_sid, None)
            await self.packet_failed(eio_sid, data, exc)

    async def _handle_event(self, eio_sid, namespace, id, data):
        if await self.screen_event(eio_sid, namespace, id, data):
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _trigger_event(self, event, namespace, *args):
        # python-socketio resolves catch-alls and calls inspect.iscoroutinefunction on every
        # event; a coroutine handler registered for exactly this event is called directly.
        handler = self.handlers.get(namespace, {}).get(event)
        try:
            if handler is not None and handler in self._coroutine_handlers:
                try:
                    return await handler(*args)
                except asyncio.CancelledError:  # as upstream: a cancelled handler answers nothing
                    return None
            if handler is not None and inspect.iscoroutinefunction(handler) and \
                    event not in ("connect", "disconnect", "connect_error", "*"):
                self._coroutine_handlers.add(handler)
            return await super()._trigger_event(event, namespace, *args)
        except Exception as exc:
            if event == "connect":  # _handle_connect answers it with a connect_error
                raise
            # Raised by a handler, not by decoding: the server's bug, not a malformed packet.
            return self.handler_failed(event, namespace, exc)

    async def _handle_connect(self, eio_sid, namespace, data):
        """A namespace CONNECT, answered as Node answers it.

        Unknown namespaces get {"message": "Invalid namespace"}; a refusal gets the hook's
        {"message", "data"?}; a failing hook gets "internal error" and a traceback in the log;
        on success the CONNECT answer goes out before anything sent while the hooks ran.
        """
        namespace = namespace or "/"
        if not self.serves(namespace):
            await self._connect_error(eio_sid, namespace, INVALID_NAMESPACE)
            return
        sid = await self.manager.pre_connect(eio_sid, namespace)
        if sid is None:  # this session is already connected to the namespace
            await self._connect_error(eio_sid, namespace, {"message": "already connected"})
            return
        hold = OutputHold(session_queue(self.eio, eio_sid), getattr(self.eio, "direct", None), eio_sid)
        try:
            refusal = await self._run_connect_handler(eio_sid, namespace, sid, data)
        except BaseException:
            hold.replay(without_namespace(hold.release(), namespace))
            raise
        held = hold.release()
        if refusal is None:
            await self._send_packet(eio_sid, self.packet_class(sio_packet.CONNECT, {"sid": sid},
                                                               namespace=namespace))
            await self.manager.connect(sid, namespace)
            hold.replay(held)
        else:
            await self._connect_error(eio_sid, namespace, refusal)
            await self.manager.disconnect(sid, namespace, ignore_queue=True)
            hold.replay(without_namespace(held, namespace))

    async def _run_connect_handler(self, eio_sid, namespace, sid, auth) -> dict | None:
        """None when the handler accepts; otherwise the CONNECT_ERROR payload."""
        environ = self.environ[eio_sid]
        try:
            try:
                accepted = await self._trigger_event("connect", namespace, sid, environ, auth)
            except TypeError:
                if auth:
                    raise
                accepted = await self._trigger_event("connect", namespace, sid, environ)  # legacy
        except sio_exceptions.ConnectionRefusedError as exc:
            return dict(exc.error_args)
        except ConnectionRefusedError:
            return {"message": "Connection refused by server"}
        except Exception:
            log.exception("connect handler failed for namespace %s (%s)", namespace, self.address(eio_sid))
            return dict(INTERNAL_ERROR)
        if accepted is False:
            return {"message": "Connection rejected by server"}
        return None

    async def _connect_error(self, eio_sid, namespace, payload: dict) -> None:
        await self._send_packet(eio_sid, self.packet_class(sio_packet.CONNECT_ERROR, data=payload,
                                                           namespace=namespace))


# Connection-state recovery (core/sio/recovery.py) ----------------------------------------------------
#
# python-socketio has no recovery: the CONNECT answer (with a pid), a restored connection's sid
# and rooms, and the moment a dropping connection is kept are taken over here, and the replay is
# queued straight onto the engineio socket so that nothing can come between it and the CONNECT.

recovery_log = logging.getLogger("chat.recovery")


def queue_packets(eio, eio_sid: str, packets: list) -> bool:
    """Queue encoded Socket.IO packets for one session, in order, without awaiting."""
    sock = eio.sockets.get(eio_sid)
    if sock is None or sock.closed or sock.closing:
        return False
    for encoded in packets:
        for part in encoded if isinstance(encoded, list) else (encoded,):
            sock.queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, part))
    return True


def engine_session(eio, eio_sid: str) -> dict:
    """The engineio session dict (python-socketio keeps each namespace's session in it)."""
    sock = eio.sockets.get(eio_sid)
    return sock.session if sock is not None else {}


class RecoveringServer:
    """Mixed in before python-socketio's AsyncServer: pids, restores and kept disconnects."""

    recovery = None  # core.sio.recovery.Recovery, set by core.host.app when enabled

    def _recovery_state(self) -> dict:
        state = self.__dict__.get("_recovery_pending")
        if state is None:
            state = self.__dict__["_recovery_pending"] = {"pids": {}, "engine_closing": set()}
        return state

    async def _handle_connect(self, eio_sid, namespace, data):
        recovery = self.recovery
        namespace = namespace or "/"
        if recovery is None or not recovery.wants_offsets(data):
            return await super()._handle_connect(eio_sid, namespace, data)
        if isinstance(data.get("pid") if isinstance(data, dict) else None, str) and \
                isinstance(data.get("offset"), str) and self.serves(namespace) and \
                self.manager.sid_from_eio_sid(eio_sid, namespace) is None:
            restore = await recovery.restore(data["pid"], data["offset"], namespace)
            if restore is not None and await self._connect_restored(eio_sid, namespace, data, restore):
                return
        pids = self._recovery_state()["pids"]
        pids[(eio_sid, namespace)] = recovery.new_pid()
        try:
            await super()._handle_connect(eio_sid, namespace, data)
        finally:
            pids.pop((eio_sid, namespace), None)

    async def _send_packet(self, eio_sid, pkt):
        if pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict) and self.recovery:
            pid = self._recovery_state()["pids"].pop((eio_sid, pkt.namespace or "/"), None)
            if pid is not None:  # the CONNECT answer of a client that gets offsets
                pkt.data = {**pkt.data, "pid": pid}
                self.recovery.connected(pkt.data["sid"], pid)
        return await super()._send_packet(eio_sid, pkt)

    async def _connect_restored(self, eio_sid, namespace, auth, restore) -> bool:
        """Connect eio_sid as the kept connection; False: go on as a new connection."""
        recovery, manager = self.recovery, self.manager
        record = restore.record
        sid = record["sid"]
        if manager.eio_sid_from_sid(sid, namespace) is not None:
            return False  # that sid is connected again already
        manager.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        manager.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
        manager.pending_connect.setdefault(namespace, []).append(sid)
        engine_session(self.eio, eio_sid)[namespace] = record["data"]
        recovery.restoring[sid] = restore  # live events skip it: the replay brings them (finish)
        fail = sio_exceptions.ConnectionRefusedError().error_args
        try:
            success = await self._trigger_event("connect", namespace, sid, self.environ[eio_sid], auth)
        except sio_exceptions.ConnectionRefusedError as exc:
            fail, success = exc.error_args, False
        finally:
            recovery.restoring.pop(sid, None)
        if success is not False and not recovery.finish(restore):
            recovery_log.warning("could not recover %s: too many events during its connect hooks", sid)
            fail, success = {"message": "connection state could not be recovered; connect again"}, False
        if success is False:
            await super()._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data=fail, namespace=namespace))
            await manager.disconnect(sid, namespace, ignore_queue=True)
            return True
        # From here until the packets are queued nothing awaits: no live event comes between.
        for room in record["rooms"]:
            manager.basic_enter_room(sid, namespace, room)
        BaseManager.connect(manager, sid, namespace)
        connect = self.packet_class(sio_packet.CONNECT, {"sid": sid, "pid": record["pid"]},
                                    namespace=namespace).encode()
        notice = self.packet_class(sio_packet.EVENT, namespace=namespace,
                                   data=["recovered", {"missed": restore.missed}]).encode()
        queue_packets(self.eio, eio_sid, [connect, *restore.packets, notice])
        recovery.restored(sid, restore)
        if recovery.on_recovered is not None:
            await recovery.on_recovered(sid, namespace, restore.missed)
        return True

    async def _handle_eio_disconnect(self, eio_sid, reason):
        closing = self._recovery_state()["engine_closing"]
        closing.add(eio_sid)
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            closing.discard(eio_sid)

    async def _handle_disconnect(self, eio_sid, namespace, reason=None):
        recovery = self.recovery
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        if recovery is None or sid is None or sid not in recovery.capable:
            return await super()._handle_disconnect(eio_sid, namespace, reason)
        record = None
        engine_closed = eio_sid in self._recovery_state()["engine_closing"]
        if recovery.recoverable(sid, reason, engine_closed) and self.manager.is_connected(sid, ns):
            rooms = [room for room in self.manager.get_rooms(sid, ns) if room != sid]
            record = recovery.snapshot(sid, ns, rooms, engine_session(self.eio, eio_sid).get(ns, {}))
        recovery.forget(sid)
        if record is None:
            return await super()._handle_disconnect(eio_sid, namespace, reason)
        shared = recovery.keep_locally(record)
        recovery.pending.add(sid)  # disconnect hooks may ask (ctx.recoverable)
        try:
            await super()._handle_disconnect(eio_sid, namespace, reason)
        finally:
            recovery.pending.discard(sid)
        await recovery.keep_shared(record, shared)


# Managers --------------------------------------------------------------------------------------------


def start_manager(sio) -> None:
    """Initialise the client manager (the backplane) now, as python-socketio does at its first client."""
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()


def eio_sid_of(sio, sid: str, namespace: str = "/") -> str | None:
    """The Engine.IO session of a Socket.IO sid."""
    return sio.manager.eio_sid_from_sid(sid, namespace)


def namespace_rooms(manager, namespace: str = "/") -> dict:
    """The manager's rooms of a namespace: room -> {sid: eio_sid} (read it, do not change it)."""
    return manager.rooms.get(namespace, {})


def audience(manager, namespace: str, room, skip_sid) -> int:
    """How many local clients an emit to room (None: everybody; a list: several) reaches."""
    rooms = manager.rooms.get(namespace, {})
    members = [rooms.get(name) or {} for name in (room if isinstance(room, list) else [room])]
    count = sum(len(m) for m in members)
    if skip_sid is not None:
        for sid in skip_sid if isinstance(skip_sid, list) else [skip_sid]:
            count -= sum(1 for m in members if sid in m)
    return max(count, 0)


def connected_count(manager, namespace: str = "/") -> int:
    return len(manager.rooms.get(namespace, {}).get(None, {}))


def serves_namespace(manager, namespace: str) -> bool:
    """Whether the manager has any connection (or room) on a namespace."""
    return namespace in manager.rooms

"""python-socketio's server with the protections a public endpoint needs.

Upstream keeps a connection that sends malformed Socket.IO packets (logging a traceback each
time) and keeps Engine.IO sessions that never join a namespace forever. Here a malformed packet
closes that connection with one log line, and a session that does not connect to a namespace
within `connect_timeout` is closed, as the Node server does.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging

import socketio
from socketio import packet as sio_packet

log = logging.getLogger("chat.socket")

# Names python-socketio keeps for the server's own handlers; clients may not send them as events.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "*"})


def _bounded_int(digits: str) -> int:
    """Integers in packets: refuse absurd lengths before int() spends time on them."""
    if len(digits.lstrip("-")) > 100:
        raise ValueError("integer is too large")
    return int(digits)


class PacketJson:
    """The json module python-socketio/engineio packets use, minus a codec built on every call.

    json.dumps(obj, separators=...) and json.loads(s, parse_int=...) construct a new encoder or
    decoder each time; these are built once. Output is byte-for-byte what json would produce.
    """

    _compact = json.JSONEncoder(separators=(",", ":"))
    _decoder = json.JSONDecoder(parse_int=_bounded_int)

    @classmethod
    def dumps(cls, obj, **kwargs) -> str:
        if kwargs == {"separators": (",", ":")}:
            return cls._compact.encode(obj)
        return json.dumps(obj, **kwargs)

    @classmethod
    def loads(cls, text, **kwargs):
        if kwargs:
            return json.loads(text, **kwargs)
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        return cls._decoder.decode(text)


def plain_event(data: str) -> tuple[int | None, object] | None:
    """(ack id, arguments) of an EVENT packet on the default namespace, `2[...]` or `2<id>[...]`.

    The shape nearly every message has; None for anything else (namespaces, binary events),
    which python-socketio's own Packet decodes.
    """
    if data[1:2] == "[":
        return None, PacketJson.loads(data[1:])
    end = 1
    while end <= 101 and data[end:end + 1].isdigit():
        end += 1
    if end == 1 or end > 101 or data[end:end + 1] != "[":
        return None
    return int(data[1:end]), PacketJson.loads(data[end:])


class MalformedPacket(ValueError):
    """A packet that decodes but makes no sense (an event without a string name, ...)."""


async def drop_session(eio, eio_sid: str) -> bool:
    """Send the Engine.IO close packet and end the session without waiting on the client."""
    sock = eio.sockets.get(eio_sid)
    if sock is None:
        return False
    await sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
    # The writer sends what is queued (the close packet last), then ends and closes the websocket.
    await sock.queue.put(None)
    eio.sockets.pop(eio_sid, None)
    return True


class ProtectedServer(socketio.AsyncServer):
    """Closes connections on malformed packets and sessions that never connect a namespace."""

    def __init__(self, *args, connect_timeout: float = 45.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}
        self._coroutine_handlers: set = set()

    def _address(self, eio_sid: str) -> str:
        return (self.environ.get(eio_sid) or {}).get("REMOTE_ADDR", "unknown address")

    async def _handle_eio_connect(self, eio_sid, environ):
        await super()._handle_eio_connect(eio_sid, environ)
        loop = asyncio.get_running_loop()
        self._connect_timers[eio_sid] = loop.call_later(
            self.connect_timeout, lambda: self.start_background_task(self._expire_unjoined, eio_sid))

    async def _expire_unjoined(self, eio_sid: str) -> None:
        self._connect_timers.pop(eio_sid, None)
        joined = any(self.manager.sid_from_eio_sid(eio_sid, ns) for ns in list(self.manager.get_namespaces()))
        if not joined and eio_sid in self.eio.sockets:
            log.info("closing session from %s: no namespace connect within %ss",
                     self._address(eio_sid), self.connect_timeout)
            await drop_session(self.eio, eio_sid)

    async def _handle_eio_disconnect(self, eio_sid, reason):
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_eio_message(self, eio_sid, data):
        try:
            if data.__class__ is str and data[:1] == "2" and eio_sid not in self._binary_packet:
                event = plain_event(data)
                if event is not None:
                    await self._handle_event(eio_sid, None, event[0], event[1])
                    return
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            # Anything raised while decoding or dispatching a packet is the client's fault:
            # handlers run in their own tasks and answer their own errors.
            shown = data[:60] if isinstance(data, (str, bytes)) else type(data).__name__
            log.warning("closing connection from %s: malformed Socket.IO packet %r (%s: %s)",
                        self._address(eio_sid), shown, type(exc).__name__, exc)
            self._binary_packet.pop(eio_sid, None)
            await drop_session(self.eio, eio_sid)

    async def _handle_event(self, eio_sid, namespace, id, data):
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise MalformedPacket("an event needs a list starting with its name")
        if data[0] in RESERVED_EVENTS:
            # python-socketio would call the server's own connect/disconnect/catch-all handlers.
            log.warning("refused reserved event name %r from %s", data[0], self._address(eio_sid))
            if id is not None:
                await self._send_packet(eio_sid, self.packet_class(
                    sio_packet.ACK, namespace=namespace, id=id,
                    data=[{"ok": False, "error": f"{data[0]!r} is a reserved event name"}]))
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _trigger_event(self, event, namespace, *args):
        # python-socketio resolves catch-alls and calls inspect.iscoroutinefunction on every
        # event; a coroutine handler registered for exactly this event is called directly.
        handler = self.handlers.get(namespace, {}).get(event)
        if handler is not None and handler in self._coroutine_handlers:
            try:
                return await handler(*args)
            except asyncio.CancelledError:  # as upstream: a cancelled handler answers nothing
                return None
        if handler is not None and inspect.iscoroutinefunction(handler) and event not in RESERVED_EVENTS:
            self._coroutine_handlers.add(handler)
        return await super()._trigger_event(event, namespace, *args)

"""python-socketio's server with the protections a public endpoint needs.

Upstream keeps a connection that sends malformed Socket.IO packets (logging a traceback each
time) and keeps Engine.IO sessions that never join a namespace forever. Here a malformed packet
closes that connection with one log line, and a session that does not connect to a namespace
within `connect_timeout` is closed, as the Node server does. The upstream hooks these rely on
are reached through core.sio.internals.SocketIOAdapter.
"""

from __future__ import annotations

import asyncio
import json
import logging

from core.sio.internals import SocketIOAdapter, drop_session

log = logging.getLogger("chat.socket")

# The ack of an event whose handler failed on our side (core.api.handlers answers the same).
INTERNAL_ERROR = {"ok": False, "error": "internal error"}

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


class ProtectedServer(SocketIOAdapter):
    """Closes connections on malformed packets and sessions that never connect a namespace."""

    def __init__(self, *args, connect_timeout: float = 45.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}

    def session_opened(self, eio_sid: str) -> None:
        loop = asyncio.get_running_loop()
        self._connect_timers[eio_sid] = loop.call_later(
            self.connect_timeout, lambda: self.start_background_task(self._expire_unjoined, eio_sid))

    async def _expire_unjoined(self, eio_sid: str) -> None:
        self._connect_timers.pop(eio_sid, None)
        if not self.joined_any_namespace(eio_sid) and await drop_session(self.eio, eio_sid):
            log.info("closing session from %s: no namespace connect within %ss",
                     self.address(eio_sid), self.connect_timeout)

    def session_closed(self, eio_sid: str) -> None:
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()

    def plain_event(self, data: str):
        return plain_event(data)

    async def packet_failed(self, eio_sid: str, data, exc: Exception) -> None:
        # Anything raised while decoding a packet or checking its shape is the client's fault;
        # what a handler raises is ours and goes to handler_failed instead.
        shown = data[:60] if isinstance(data, (str, bytes)) else type(data).__name__
        log.warning("closing connection from %s: malformed Socket.IO packet %r (%s: %s)",
                    self.address(eio_sid), shown, type(exc).__name__, exc)
        await drop_session(self.eio, eio_sid)

    def handler_failed(self, event: str, namespace, exc: Exception):
        # core.api's wrapper answers a plugin's errors itself, so this is a bug in core (or a
        # handler registered around it): logged with its traceback, the client kept.
        log.error("internal error in the %r handler (namespace %s)", event, namespace or "/", exc_info=exc)
        return None if event == "disconnect" else INTERNAL_ERROR

    async def screen_event(self, eio_sid: str, namespace, ack_id, data) -> bool:
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise MalformedPacket("an event needs a list starting with its name")
        if data[0] not in RESERVED_EVENTS:
            return False
        # python-socketio would call the server's own connect/disconnect/catch-all handlers.
        log.warning("refused reserved event name %r from %s", data[0], self.address(eio_sid))
        if ack_id is not None:
            await self.send_ack(eio_sid, namespace, ack_id,
                                [{"ok": False, "error": f"{data[0]!r} is a reserved event name"}])
        return True

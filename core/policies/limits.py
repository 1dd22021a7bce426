"""Abuse limits: connections per client address and a message token bucket per connection."""

from __future__ import annotations

import asyncio
import logging

import socketio

from socketio.exceptions import ConnectionRefusedError as ConnectionRefused
from core.base.settings import ServerSettings
from core.sio.internals import drop_session, eio_sid_of

log = logging.getLogger("chat.limits")

_BUCKET = "core.rate"  # session key: [tokens, last refill time, refusals in a row]


class Limits:
    """Counts connections per address (process-wide) and meters each connection's messages."""

    def __init__(self, sio: socketio.AsyncServer, server: ServerSettings):
        self._sio = sio
        self._max_per_address = server.max_connections_per_address
        self._rate = server.rate_limit
        self._per_address: dict[str, int] = {}

    def connection_opened(self, environ: dict) -> None:
        """Count a new connection, or refuse it when its address has too many."""
        address = environ.get("REMOTE_ADDR", "")
        count = self._per_address.get(address, 0)
        if count >= self._max_per_address:
            log.warning("refused connection from %s: already %d connections from that address",
                        address, count)
            # data.retry: this passes once other connections from the address close (pages retry).
            raise ConnectionRefused(f"too many connections from your address (at most "
                                    f"{self._max_per_address})", {"retry": True})
        self._per_address[address] = count + 1

    def connection_closed(self, environ: dict) -> None:
        address = environ.get("REMOTE_ADDR", "")
        left = self._per_address.get(address, 0) - 1
        if left > 0:
            self._per_address[address] = left
        else:
            self._per_address.pop(address, None)

    async def admit(self, sid: str, event: str, namespace: str = "/") -> str | None:
        """None when the connection may send now; otherwise the reason it may not."""
        rate = self._rate
        session = await self._sio.get_session(sid, namespace)  # the live dict: updated in place
        now = asyncio.get_running_loop().time()
        bucket = session.get(_BUCKET)
        if bucket is None:
            bucket = session[_BUCKET] = [float(rate.burst), now, 0]
        tokens = min(float(rate.burst), bucket[0] + (now - bucket[1]) * rate.messages_per_second)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0], bucket[2] = tokens - 1.0, 0
            return None
        bucket[0] = tokens
        bucket[2] += 1
        address = (self._sio.get_environ(sid, namespace) or {}).get("REMOTE_ADDR", "")
        if bucket[2] == 1:  # one log line per streak, not one per refused message
            log.warning("rate limiting %s (%s): more than %g messages per second",
                        sid, address, rate.messages_per_second)
        if rate.disconnect_after and bucket[2] >= rate.disconnect_after:
            log.warning("disconnecting %s (%s): %d messages refused in a row", sid, address, bucket[2])
            eio_sid = eio_sid_of(self._sio, sid, namespace)
            if eio_sid:
                await drop_session(self._sio.eio, eio_sid)
            return "rate limited: disconnected"
        retry_after = round((1.0 - tokens) / rate.messages_per_second, 3)
        await self._sio.emit("rate_limited", {"event": event, "retry_after": retry_after}, to=sid,
                             namespace=namespace)
        return f"rate limited: at most {rate.messages_per_second:g} messages per second " \
               f"(retry in {retry_after}s)"

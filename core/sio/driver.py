"""Engine.IO's driver interface on Sanic: requests in, responses out, and the websocket it drives.

engineio calls translate_request() and make_response() for HTTP, and runs SanicWebSocket for a
websocket, on core.transport.websocket after Sanic's HTTP upgrade. core.sio.binding wires these into engineio.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import sys
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse, text

from core.transport.websocket import HandshakeError, ServerWebSocket, accept
from core.protocol.frames import OP_BINARY, frame, text_frame
from core.sio.session import run_session

log = logging.getLogger("chat.binding")

# Returned by the websocket handler instead of a response dict: engineio passes non-dicts
# through untouched, and the route then returns None so Sanic writes nothing more.
UPGRADED = object()



class ClientGone(OSError):
    """The websocket peer went away or broke the protocol; engineio ends the session on OSError."""


class _Body:
    """The request body as engineio's `wsgi.input` reads it."""

    def __init__(self, data: bytes | None):
        self._data = data or b""

    async def read(self, length: int | None = None) -> bytes:
        chunk = self._data if length is None else self._data[:length]
        self._data = b"" if length is None else self._data[length:]
        return chunk


def translate_request(request: Request) -> dict:
    """A WSGI-style environ for engineio, with the real client address."""
    url = urlsplit(request.url)
    environ = {
        "wsgi.input": _Body(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.url_scheme": request.scheme if request.scheme in ("http", "https") else "http",
        "SERVER_SOFTWARE": "sanic",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": url.query or "",
        "RAW_URI": request.url,
        "SERVER_PROTOCOL": "HTTP/" + request.version,
        # remote_addr honours the proxy settings (FORWARDED_SECRET, PROXIES_COUNT); ip is the peer.
        "REMOTE_ADDR": request.remote_addr or request.ip or "",
        "REMOTE_PORT": str(request.port or 0),
        "SERVER_NAME": request.server_name,
        "SERVER_PORT": str(request.server_port),
        "PATH_INFO": url.path,
        "SCRIPT_NAME": "",
        "sanic.request": request,
    }
    for name, value in request.headers.items():
        name = name.upper().replace("-", "_")
        if name == "CONTENT_LENGTH":
            continue  # set below from the body itself
        if name == "CONTENT_TYPE":
            environ[name] = value
            continue
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    # Sanic has read the whole body (chunked ones too); engineio reads CONTENT_LENGTH bytes of it.
    environ["CONTENT_LENGTH"] = str(len(request.body or b""))
    return environ


def make_response(status: str, headers: list, payload: bytes, environ: dict) -> HTTPResponse:
    """engineio's response dict as a Sanic response."""
    content_type = None
    extra = {}
    for name, value in headers:
        if name.lower() == "content-type":
            content_type = value
        else:
            extra[name] = value
    return HTTPResponse(body=payload, status=int(status.split()[0]),
                        headers=extra, content_type=content_type)


def valid_polling_body(body: bytes) -> bool:
    """Whether a long-polling POST body is a sequence of Engine.IO packets (\x1e-separated)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for part in text.split("\x1e") if text else ():
        if part.startswith("b"):  # a binary packet, base64-encoded
            try:
                base64.b64decode(part[1:], validate=True)
            except (binascii.Error, ValueError):
                return False
        elif not part or part[0] not in "0123456":
            return False
    return True


def _valid_eio_frame(data: str | bytes) -> bool:
    """Whether a websocket frame is an Engine.IO packet at all (binary frames are messages)."""
    if isinstance(data, bytes):
        return True
    return bool(data) and data[0] in "0123456"


class SanicWebSocket:
    """The websocket object engineio drives: core.transport.websocket on the connection Sanic accepted."""

    __slots__ = ("handler", "server", "environ", "session", "_ws", "_sending", "_pending", "_queued")

    def __init__(self, handler, server):
        self.handler = handler
        self.server = server
        self.environ: dict = {}
        self._ws: ServerWebSocket | None = None
        self._sending = 0
        self._pending: list[bytes] | None = None
        self.session = getattr(handler, "__self__", None)  # the engineio socket this serves
        self._queued = self.session.queue.items if self.session is not None else ()

    async def __call__(self, environ: dict):
        request: Request = environ["sanic.request"]
        self.environ = environ
        session = self.session
        try:
            self._ws = await accept(request, self.server.max_http_buffer_size)
        except HandshakeError as exc:
            log.info("refused websocket from %s: %s", environ.get("REMOTE_ADDR"), exc)
            if session is not None:
                await session.close(wait=False, abort=True)  # engineio then forgets it
            return text(f"invalid websocket handshake: {exc}", status=400)
        try:
            if session is not None:
                await run_session(session, self)
            else:
                await self.handler(self)
        except Exception as exc:  # engineio ends the session itself; keep the log to one line
            log.warning("websocket session from %s ended on error: %s: %s",
                        environ.get("REMOTE_ADDR"), type(exc).__name__, exc)
        finally:
            await self.close()
        return UPGRADED

    async def close(self):
        self.flush()
        if self._ws is not None:
            await self._ws.close()

    async def send(self, message: str | bytes):
        self.flush()  # frames already handed to write_frame() go first
        self._sending += 1
        try:
            await self._ws.send(message)
        finally:
            self._sending -= 1

    def write_frame(self, frame: bytes) -> bool:
        """Write a ready websocket frame now if nothing can be in flight ahead of it."""
        if self._queued:
            return False  # packets queued for the writer go first
        pending = self._pending
        if pending is not None:  # checked below earlier in this loop iteration
            pending.append(frame)
            return True
        session = self.session
        if self._sending or session.closing or session.closed or not self._ws.can_write_now():
            return False  # a send waiting for the peer, a closing session or a slow reader
        self._pending = [frame]
        self.server.frame_flusher.add(self)
        return True

    def write_packet(self, pkt) -> bool:
        """Write one of the session's own packets (connect answer, ack, ping) now, if nothing is
        in flight ahead of it; the queue's writer task would cost two event-loop turns."""
        session = self.session
        if self._sending or session.closed or not self._ws.can_write_now():
            return False
        self.flush()  # broadcast frames collected before it go first
        data = pkt.encode()
        self._ws.write(text_frame(data.encode()) if isinstance(data, str) else frame(OP_BINARY, data))
        return True

    def flush(self) -> None:
        """Write the frames write_frame() collected during this loop iteration, in one call."""
        frames, self._pending = self._pending, None
        if frames and self._ws.open:  # nothing after our close frame
            self._ws.write(frames[0] if len(frames) == 1 else b"".join(frames))

    async def wait(self) -> str | bytes:
        data = await self._ws.recv()
        if not _valid_eio_frame(data):
            log.warning("closing websocket from %s: invalid Engine.IO packet %r",
                        self.environ.get("REMOTE_ADDR"), data[:40])
            raise ClientGone("invalid packet")
        return data


class FrameFlusher:
    """Writes every websocket's collected frames once per event-loop iteration.

    Broadcast frames are collected per websocket and written together after the current batch
    of callbacks, so a socket that gets several messages in one iteration costs one write.
    """

    def __init__(self):
        self._waiting: list[SanicWebSocket] = []

    def add(self, ws: SanicWebSocket) -> None:
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._flush_all)
        self._waiting.append(ws)

    def _flush_all(self) -> None:
        waiting, self._waiting = self._waiting, []
        for ws in waiting:
            ws.flush()

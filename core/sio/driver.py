"""Engine.IO's driver interface on Sanic: requests in, responses out, and the websocket it drives.

engineio calls translate_request() and make_response() for HTTP, and runs SanicWebSocket for a
websocket, on core.transport.websocket after Sanic's HTTP upgrade. core.sio.binding wires these into engineio.
"""

from __future__ import annotations

import base64
import binascii
import logging
import sys
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse, text

from core.protocol.handshake import HandshakeError
from core.sio.internals import abort_session, websocket_session
from core.sio.session import run_session
from core.transport.direct import DirectWriter
from core.transport.upgrade import accept
from core.transport.websocket import ServerWebSocket

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
    """engineio's response dict as a Sanic response, worded as Node's engine.io words it."""
    content_type = None
    extra = {}
    for name, value in headers:
        if name.lower() == "content-type":
            content_type = value
        else:
            extra[name] = value
    code = int(status.split()[0])
    if code == 200 and payload == b"OK":  # engineio's answer to a POST or a preflight
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            payload, content_type = b"ok", "text/html"
        elif method == "OPTIONS":
            return HTTPResponse(status=204, headers=extra)
    return HTTPResponse(body=payload, status=code, headers=extra, content_type=content_type)


async def close_websocket(request: Request, max_size: int, policy) -> None:
    """Accept a websocket and close it at once, without a status code (Node's ws.close())."""
    try:
        ws = await accept(request, max_size, policy)
    except HandshakeError as exc:
        log.info("refused websocket from %s: %s", request.remote_addr or request.ip, exc)
        return
    await ws.close(code=None)


def valid_polling_body(body: bytes) -> bool:
    """Whether a long-polling POST body is a sequence of Engine.IO packets (\x1e-separated)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not text:
        return False  # Node closes the session on an empty payload too
    for part in text.split("\x1e"):
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

    __slots__ = ("handler", "server", "environ", "session", "out", "_ws")

    def __init__(self, handler, server):
        self.handler = handler
        self.server = server
        self.environ: dict = {}
        self._ws: ServerWebSocket | None = None
        self.out: DirectWriter | None = None  # what the session writes through (core.transport.direct)
        self.session = websocket_session(handler)  # the engineio socket this serves

    async def __call__(self, environ: dict):
        request: Request = environ["sanic.request"]
        self.environ = environ
        session = self.session
        policy = self.server.transport_policy
        try:
            self._ws = await accept(request, self.server.max_http_buffer_size, policy)
        except HandshakeError as exc:
            log.info("refused websocket from %s: %s", environ.get("REMOTE_ADDR"), exc)
            if session is not None:
                await abort_session(session)  # engineio then forgets it
            return text(f"invalid websocket handshake: {exc}", status=exc.status, headers=dict(exc.headers))
        self.out = DirectWriter(self._ws, session, self.server.direct)
        try:
            if session is not None:
                await run_session(session, self)
            else:
                await self.handler(self)
        except OSError:
            pass  # the peer went away or broke the protocol: logged where it was seen
        except Exception:
            # A bug on our side: its traceback, and 1011 to the client, never blamed on it.
            log.exception("websocket session from %s failed", environ.get("REMOTE_ADDR"))
            self._ws.internal_error()
        finally:
            await self.close()
        return UPGRADED

    async def close(self):
        if self.out is not None:
            await self.out.close()

    async def send(self, message: str | bytes):
        await self.out.send(message)

    async def wait(self) -> str | bytes:
        data = await self._ws.recv()
        if not _valid_eio_frame(data):
            log.warning("closing websocket from %s: invalid Engine.IO packet %r",
                        self.environ.get("REMOTE_ADDR"), data[:40])
            raise ClientGone("invalid packet")
        return data

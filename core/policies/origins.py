"""Which browser origins may connect: the server's own, public_url's, and cors_allowed_origins."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from core.base.settings import ServerSettings

log = logging.getLogger("chat.core")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_HTTP_SCHEME = {"ws": "http", "wss": "https"}


def own_origin(environ: dict) -> str:
    """The origin the client reached: as a trusted proxy reports it (Sanic's proxy settings)."""
    request = environ.get("sanic.request")
    if request is not None:
        scheme = _HTTP_SCHEME.get(request.scheme, request.scheme)
        return f"{scheme}://{request.host}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"


def origin_policy(server: ServerSettings):
    """Allowed: the server's own origin, public_url's origin, and cors_allowed_origins."""
    listed = set(server.cors_allowed_origins)
    if server.public_url:
        listed.add(_origin(server.public_url))
    allow_all = "*" in listed

    def decide(origin: str, environ: dict) -> bool:
        if allow_all or origin in listed:
            return True
        own = own_origin(environ)
        if origin == own:
            return True
        log.warning("refused connection from origin %r (client %s); allowed: own origin, %s",
                    origin, environ.get("REMOTE_ADDR"), ", ".join(sorted(listed)))
        return False

    def allowed(origin: str | None, environ: dict) -> bool:
        if origin is None:  # asked while building CORS headers for a request without Origin
            return False
        # engineio asks twice per request (the check, then the CORS headers): decide and log once.
        if "chat.origin_allowed" not in environ:
            environ["chat.origin_allowed"] = decide(origin, environ)
        return environ["chat.origin_allowed"]

    return allowed

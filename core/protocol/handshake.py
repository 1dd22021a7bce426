"""The RFC 6455 opening handshake, server side: check the upgrade request, build the 101 answer.

Refusals carry the HTTP status the `websockets` library answers with: 505 for an HTTP/1.0
request, 426 with `Sec-WebSocket-Version: 13` for another protocol version, 400 otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION = "13"


class HandshakeError(ValueError):
    """The upgrade request is not a valid RFC 6455 handshake; `status` and `headers` answer it."""

    def __init__(self, why: str, status: int = 400, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(why)
        self.status = status
        self.headers = headers


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def _tokens(values: list[str]) -> list[str]:
    return [token.strip().lower() for value in values for token in value.split(",")]


def check_request(http_version: str, headers) -> str:
    """The Sec-WebSocket-Accept value for a valid upgrade request; HandshakeError otherwise.

    `headers` is a case-insensitive multidict (Sanic's request.headers): `getall(name, [])`.
    """
    if http_version != "1.1":
        raise HandshakeError(f"HTTP/{http_version} cannot upgrade (RFC 6455 needs HTTP/1.1)", 505)
    if "websocket" not in _tokens(headers.getall("upgrade", [])):
        raise HandshakeError("missing Upgrade: websocket")
    if "upgrade" not in _tokens(headers.getall("connection", [])):
        raise HandshakeError("missing Connection: upgrade")
    versions = headers.getall("sec-websocket-version", [])
    if [v.strip() for v in versions] != [VERSION]:
        raise HandshakeError("unsupported Sec-WebSocket-Version", 426, (("Sec-WebSocket-Version", VERSION),))
    keys = headers.getall("sec-websocket-key", [])
    if len(keys) != 1:
        raise HandshakeError("missing Sec-WebSocket-Key" if not keys else "more than one Sec-WebSocket-Key")
    key = keys[0].strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise HandshakeError("invalid Sec-WebSocket-Key")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise HandshakeError("invalid Sec-WebSocket-Key") from None
    return accept_key(key)


def accept_response(accept_value: str) -> bytes:
    """The 101 answer (no extension, no subprotocol)."""
    return ("HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_value}\r\n\r\n").encode("ascii")

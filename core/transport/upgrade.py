"""The HTTP side of a websocket upgrade: refuse a bad request before any session exists, accept a good one."""

from __future__ import annotations

import logging

from sanic import Request
from sanic.response import HTTPResponse, text

from core.protocol.handshake import HandshakeError, accept_response, check_request
from core.transport.budget import TransportPolicy
from core.transport.websocket import ServerWebSocket

log = logging.getLogger("chat.websocket")


def refusal(request: Request, policy: TransportPolicy) -> HTTPResponse | None:
    """The HTTP error for an invalid upgrade request (400, 426, 505), or None when it is valid.

    Checked before engineio sees the request: engineio would open a session for it first (and,
    without `Connection: Upgrade`, answer nothing until the session expired).
    """
    try:
        check_request(request.version, request.headers)
    except HandshakeError as exc:
        policy.count("handshake_refused")
        log.info("refused websocket from %s: %s", request.remote_addr or request.ip, exc)
        return text(f"invalid websocket handshake: {exc}", status=exc.status, headers=dict(exc.headers))
    return None


async def accept(request: Request, max_size: int, policy: TransportPolicy) -> ServerWebSocket:
    """Answer the upgrade request with 101 and take the connection over from Sanic's HTTP."""
    accept_value = check_request(request.version, request.headers)
    protocol = request.transport.get_protocol()
    ws = ServerWebSocket(request.transport, max_size, policy)
    # From here Sanic's protocol hands every byte to ws.data_received (set before the 101, so
    # nothing the client sends after it can land in Sanic's HTTP buffer).
    protocol.websocket = ws
    # Sanic cancels a connection's handler task when the TCP connection goes, wherever it is:
    # halfway through a message the peer sent just before closing. The session ends by itself
    # (connection_lost wakes it), so the task is taken off Sanic's books; Sanic only uses it for
    # HTTP timeouts, which it stops for websockets anyway.
    protocol._task = None
    ws.write(accept_response(accept_value))
    return ws

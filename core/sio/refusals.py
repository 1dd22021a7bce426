"""What Node's engine.io refuses before a session sees a request, and the answers it gives.

Node's Server.verify() and handshake() run before any session: an unknown transport, an
unknown session, a handshake with another method than GET, a websocket transport without the
upgrade, an unsupported protocol version. engineio words these differently (or opens a
session for them); core.sio.binding asks check_request() first.
"""

from __future__ import annotations

import json

from sanic import Request

from core.sio.driver import translate_request
from core.sio.internals import is_upgrading, live_session, session_transport, transports

# Node's engine.io error codes and messages (Server.errors / Server.errorMessages), which the
# official clients and Node-facing tooling see in a refused request's body.
UNKNOWN_TRANSPORT, UNKNOWN_SID, BAD_HANDSHAKE_METHOD, BAD_REQUEST, FORBIDDEN, UNSUPPORTED_PROTOCOL = range(6)
ERROR_MESSAGES = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL: "Unsupported protocol version",
}
# check_request()'s answer for a websocket that Node accepts and then closes at once.
CLOSE_AFTER_ACCEPT = "close"


def check_request(eio, request: Request) -> int | str | None:
    """What Node's engine.io refuses before a session sees the request: an error code,
    CLOSE_AFTER_ACCEPT, or None to let engineio handle it (Node's Server.verify and handshake)."""
    args = request.args
    transport = args.get("transport")
    if transport not in transports(eio):  # missing too: engineio would default to polling
        return UNKNOWN_TRANSPORT
    upgrade = request.headers.get("upgrade", "").lower() == "websocket"
    sid = args.get("sid")
    if sid:
        sock = live_session(eio, sid)
        if sock is None:
            return UNKNOWN_SID
        if upgrade:
            # A second websocket for a session that has (or is getting) one: Node accepts it,
            # then closes it, so the client sees a close rather than an HTTP error.
            return CLOSE_AFTER_ACCEPT if is_upgrading(sock) else None
        if transport != session_transport(sock):
            return BAD_REQUEST  # e.g. a poll after the upgrade
        if request.method not in ("GET", "POST"):
            return BAD_REQUEST  # Node answers 500 here; the client is at fault, not the server
        return None
    if request.method != "GET":
        return BAD_HANDSHAKE_METHOD
    if transport == "websocket" and not upgrade:
        return BAD_REQUEST
    if args.get("EIO") != "4":
        return UNSUPPORTED_PROTOCOL
    return None


async def node_refusal(eio, request: Request, code: int):
    """Node's answer to a refused request: JSON {code, message}, or text for a websocket upgrade."""
    message = ERROR_MESSAGES[code]
    status = 403 if code == FORBIDDEN else 400
    environ = translate_request(request)
    if request.headers.get("upgrade", "").lower() == "websocket":
        return await eio.respond(environ, status, message.encode(), "text/html")
    body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    return await eio.respond(environ, status, body, "application/json")

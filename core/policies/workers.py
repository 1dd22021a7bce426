"""Several worker processes: websocket only, since a polling session's requests reach any worker.

Sanic's workers share one listening socket and the kernel hands each TCP connection to any of
them; a long-polling session is several HTTP requests, usually on several connections, so most
of them would reach a worker that does not hold the session ("Invalid session"). A websocket is
one connection, so it stays with the worker that accepted it. With `server.workers` above 1:

- the Engine.IO server offers websocket only, and a polling handshake gets HTTP 400 with a
  message saying why (and one log line per minute, with the count);
- the served client script (/socket.io/socket.io.js) makes `io(url)` default to
  `transports: ["websocket"]`, so pages written for the tutorial (`io.connect('/')`) connect
  unchanged; a client that asks for polling explicitly still gets the 400.
"""

from __future__ import annotations

import logging
import time

from sanic import Request, Sanic
from sanic.response import json

from core.base.settings import ServerSettings

log = logging.getLogger("chat.workers")

LOG_EVERY = 60.0  # seconds between two log lines about refused polling handshakes

# Appended to the official client when the server runs several workers (see the module docstring).
WEBSOCKET_DEFAULT_SHIM = b"""
;(function () {
  // Added by the chat server: it runs several worker processes, where long-polling cannot work
  // (a session's requests would reach different workers), so io() defaults to websocket.
  if (typeof io !== "function") return;
  var lookup = io;
  function websocketFirst(uri, opts) {
    if (uri !== null && typeof uri === "object") { opts = uri; uri = undefined; }
    opts = Object.assign({transports: ["websocket"]}, opts || {});
    return lookup(uri, opts);
  }
  Object.assign(websocketFirst, lookup);
  websocketFirst.connect = websocketFirst;
  websocketFirst["default"] = websocketFirst;
  window.io = websocketFirst;
})();
"""


def several_workers(server: ServerSettings) -> bool:
    return server.workers > 1 and "websocket" in server.transports


def engine_transports(server: ServerSettings) -> list[str]:
    """Transports the Engine.IO server accepts."""
    return ["websocket"] if several_workers(server) else list(server.transports)


def refuse_polling(app: Sanic, server: ServerSettings, path: str = "/socket.io/") -> None:
    """With several workers, answer a polling handshake with a 400 that says to use websocket."""
    if not several_workers(server):
        return
    message = (f"long-polling is not available: this server runs {server.workers} worker processes "
               f"(server.workers) and a polling session's requests would reach different ones; "
               f"connect with transports: ['websocket']")
    state = {"last": 0.0, "refused": 0}

    async def polling_handshake(request: Request):
        if request.path != path or request.args.get("transport") != "polling":
            return None
        state["refused"] += 1
        now = time.monotonic()
        if now - state["last"] >= LOG_EVERY:
            log.warning("refused %d long-polling handshake(s) (latest from %s): %s", state["refused"],
                        request.remote_addr or request.ip, message)
            state["last"], state["refused"] = now, 0
        # Engine.IO's error shape (code 3: bad request), with the reason as the message.
        return json({"code": 3, "message": message}, status=400)

    app.on_request(polling_handshake, priority=100)

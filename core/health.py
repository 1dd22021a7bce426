"""GET /healthz: process status, backplane state and client count; 503 while the backplane is down."""

from __future__ import annotations

import os

import socketio
from sanic import Request, Sanic
from sanic.response import json


def connected_clients(sio: socketio.AsyncServer, namespace: str = "/") -> int:
    """Socket.IO clients connected to this process."""
    return len(sio.manager.rooms.get(namespace, {}).get(None, {}))


def add_health_route(app: Sanic, sio: socketio.AsyncServer, backplane_kind: str) -> None:
    async def healthz(request: Request):
        report = getattr(sio.manager, "health", None)
        backplane = report() if report else {"connected": True, "buffered": 0, "dropped": 0}
        body = {
            "status": "ok" if backplane["connected"] else "degraded",
            "pid": os.getpid(),
            "backplane": {"kind": backplane_kind, **backplane},
            "clients": connected_clients(sio),
        }
        return json(body, status=200 if backplane["connected"] else 503)

    app.add_route(healthz, "/healthz", methods=["GET"], name="healthz")

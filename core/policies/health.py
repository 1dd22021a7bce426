"""GET /healthz: process status, backplane state and counts; 503 while the backplane is down."""

from __future__ import annotations

import logging
import os
from typing import Callable

import socketio
from sanic import Request, Sanic
from sanic.response import json, raw

from core.sio.internals import connected_count, namespace_rooms, session_count

log = logging.getLogger("chat.core")


def connected_clients(sio: socketio.AsyncServer, namespace: str = "/") -> int:
    """Socket.IO clients connected to this process."""
    return connected_count(sio.manager, namespace)


def named_rooms(sio: socketio.AsyncServer, namespace: str = "/") -> int:
    """Rooms with members in this process, not counting each client's own room."""
    rooms = namespace_rooms(sio.manager, namespace)
    clients = rooms.get(None, {})
    return sum(1 for room, members in rooms.items() if room is not None and room not in clients and members)


def rss_kib() -> int | None:
    """Resident memory of this process (Linux), for watching growth."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def plugin_figures(reports: dict) -> dict:
    """Each plugin's own figures (ctx.health); a failing report shows its error, not a 500."""
    out = {}
    for name, report in reports.items():
        try:
            out[name] = report()
        except Exception as exc:
            log.exception("health report of plugin %s failed", name)
            out[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return out


def add_health_route(app: Sanic, sio: socketio.AsyncServer, backplane_kind: str,
                     backplane_health: Callable[[], dict], plugin_reports: dict | None = None) -> None:
    async def healthz(request: Request):
        backplane = backplane_health()  # "connected" and one dict of counters per component
        plugins = plugin_figures(plugin_reports or {})
        # A plugin in trouble (the archive's database away) degrades the status, not the HTTP
        # code: the chat itself still works, so a load balancer should keep the process.
        healthy = backplane["connected"] and all(p.get("ok", True) is not False for p in plugins.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "pid": os.getpid(),
            "backplane": {"kind": backplane_kind, **backplane},
            "clients": connected_clients(sio),
            "sessions": session_count(sio.eio),
            "rooms": named_rooms(sio),
            "rss_kib": rss_kib(),
            # Clients cut off (slow readers, ping floods, protocol errors) and refused handshakes.
            "transport": sio.eio.transport_policy.health(),
            "plugins": plugins,
        }
        recovery = getattr(sio, "recovery", None)  # connection-state recovery (core/sio/recovery.py)
        if recovery is not None:
            body["recovery"] = recovery.health()
        return json(body, status=200 if backplane["connected"] else 503)

    app.add_route(healthz, "/healthz", methods=["GET", "HEAD"], name="healthz")


def read_lag(backplane: dict) -> float:
    """The backplane reader's lag in seconds (0 for a backplane without a stream)."""
    stream = backplane.get("stream")
    return float(stream.get("read_lag_seconds", 0.0)) if isinstance(stream, dict) else 0.0


def add_probe_routes(app: Sanic, backplane_health: Callable[[], dict], max_read_lag: float) -> None:
    """GET /healthz/live (the process answers) and /healthz/ready (it can serve the cluster).

    Readiness fails while the backplane is down or its reader lags more than max_read_lag
    seconds, so that a load balancer takes a deaf worker out; liveness stays 200, so that a
    supervisor does not restart a process that is only waiting for Redis.
    """

    async def live(request: Request):
        return json({"status": "alive", "pid": os.getpid()})

    async def ready(request: Request):
        backplane = backplane_health()
        lag = read_lag(backplane)
        problems = []
        if not backplane["connected"]:
            problems.append("backplane down")
        if lag > max_read_lag:
            problems.append(f"backplane read lag {lag:.1f}s over {max_read_lag:g}s")
        body = {"status": "ready" if not problems else "not ready", "pid": os.getpid(),
                "backplane_connected": backplane["connected"], "read_lag_seconds": lag}
        if problems:
            body["problems"] = problems
        return json(body, status=503 if problems else 200)

    app.add_route(live, "/healthz/live", methods=["GET", "HEAD"], name="healthz_live")
    app.add_route(ready, "/healthz/ready", methods=["GET", "HEAD"], name="healthz_ready")


def add_metrics_route(app: Sanic, metrics) -> None:
    """GET /metrics: core.policies.metrics in the Prometheus text format."""

    async def scrape(request: Request):
        body, content_type = metrics.exposition()
        return raw(body, content_type=content_type)

    app.add_route(scrape, "/metrics", methods=["GET", "HEAD"], name="metrics")

"""GET /metrics: this server's figures in the Prometheus text format, by prometheus_client.

Counters move where things happen (events in, emits and deliveries out, refused acks, connects
and disconnects); gauges are read from the same health() figures /healthz shows, refreshed at
each scrape and once a second. With several Sanic workers, cli sets PROMETHEUS_MULTIPROC_DIR
before the workers start: every worker writes its series there, and a scrape that reaches any
worker returns all of them (gauges per worker, with a `pid` label; counters summed).

No label takes a value a client chose: event names are those a plugin registered (anything else
is counted as "unknown"), reasons and transports come from fixed sets.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("chat.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REFUSAL_KINDS = ("validation", "rate_limited", "not_member", "refused", "backplane", "internal_error")
DISCONNECT_REASONS = ("client disconnect", "server disconnect", "ping timeout", "transport close",
                      "transport error")
UNKNOWN = "unknown"


def _numbers(figures: dict, prefix: str = "") -> Iterable[tuple[str, float]]:
    """(dotted key, value) of every number in a nested health dict (booleans as 0/1)."""
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            yield name, float(value)
        elif isinstance(value, (int, float)):
            yield name, float(value)
        elif isinstance(value, dict):
            yield from _numbers(value, name + ".")


class Metrics:
    """The server's series; the hooks below are called by core where each thing happens."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # Our own registry: an app built twice in one process (cli checks the config first)
        # must not register the same names twice in prometheus_client's global one.
        self._own = CollectorRegistry(auto_describe=True)
        mode = {"multiprocess_mode": "liveall"} if self.multiprocess else {}
        reg = {"registry": self._own}
        self.received = Counter("chat_socketio_events_received", "Socket.IO events received, by event",
                                ["event"], **reg)
        self.emitted = Counter("chat_socketio_events_emitted", "Socket.IO events emitted (one per emit "
                               "to a room, a client or everybody), by event", ["event"], **reg)
        self.deliveries = Counter("chat_deliveries", "Events delivered to a client (one per recipient)",
                                  **reg)
        self.refused = Counter("chat_acks_refused", "Requests answered with an error ack, by reason",
                               ["reason"], **reg)
        self.connects = Counter("chat_connects", "Socket.IO connections accepted, by namespace "
                                "(registered namespaces only)", ["namespace"], **reg)
        self.disconnects = Counter("chat_disconnects", "Socket.IO disconnects, by reason", ["reason"], **reg)
        self.connections = Gauge("chat_connections", "Engine.IO sessions open, by transport",
                                 ["transport"], **mode, **reg)
        self.figures = Gauge("chat_figure", "Every number /healthz shows, by section and figure "
                             "(backplane, transport, recovery, plugin.<name>)", ["section", "figure"],
                             **mode, **reg)
        self.read_lag = Gauge("chat_backplane_read_lag_seconds", "Age of the last stream entry read "
                              "when it was read (0 when caught up)", **mode, **reg)
        self.redis_rtt = Gauge("chat_backplane_redis_rtt_seconds", "Round-trip time of the last "
                               "Redis heartbeat", **mode, **reg)
        self._event_names: set[str] = set()
        self._received: dict[str, object] = {}
        self._emitted: dict[str, object] = {}
        self._sources: list[tuple[str, Callable[[], dict]]] = []
        self._transports: Callable[[], dict] = dict

    # Set-up -----------------------------------------------------------------------------------

    def known_event(self, event: str) -> None:
        """An event a plugin handles: counted under its own name."""
        self._event_names.add(event)

    def add_source(self, section: str, figures: Callable[[], dict]) -> None:
        """A health() callable whose numbers become chat_figure{section=...} gauges."""
        self._sources.append((section, figures))

    def count_transports(self, counts: Callable[[], dict]) -> None:
        """A callable returning {"websocket": n, "polling": m}."""
        self._transports = counts

    # Counting (hot paths: label children are cached) -------------------------------------------

    def event_received(self, event: str) -> None:
        child = self._received.get(event)
        if child is None:
            if event not in self._event_names:  # a name the client chose: not a series of its own
                self.received.labels(UNKNOWN).inc()
                return
            child = self._received[event] = self.received.labels(event)
        child.inc()

    def event_emitted(self, event: str, recipients: int) -> None:
        child = self._emitted.get(event)
        if child is None:
            child = self._emitted[event] = self.emitted.labels(event)
        child.inc()
        if recipients:
            self.deliveries.inc(recipients)

    def ack_refused(self, kind: str) -> None:
        self.refused.labels(kind if kind in REFUSAL_KINDS else "refused").inc()

    def connected(self, namespace: str) -> None:
        self.connects.labels(namespace).inc()

    def disconnected(self, reason) -> None:
        reason = str(reason)
        self.disconnects.labels(reason if reason in DISCONNECT_REASONS else "other").inc()

    # Scrape -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the gauges from their sources (a failing source is logged, not a failed scrape)."""
        try:
            for transport, count in self._transports().items():
                self.connections.labels(transport).set(count)
        except Exception:
            log.exception("metrics: counting transports failed")
        for section, source in self._sources:
            try:
                figures = source()
            except Exception:
                log.exception("metrics: figures of %s failed", section)
                continue
            for name, value in _numbers(figures):
                if name == "read_lag_seconds" or name.endswith(".read_lag_seconds"):
                    self.read_lag.set(value)
                elif name.endswith("rtt_seconds"):
                    self.redis_rtt.set(value)
                self.figures.labels(section, name).set(value)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: this process's series, or every worker's."""
        self.refresh()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self._own), CONTENT_TYPE_LATEST


"""The app factory: one Sanic app, one Socket.IO server, the backplane and the enabled plugins."""

from __future__ import annotations

import logging

from sanic import Sanic

from core.api.context import Host
from core.backplane.base import Backplane
from core.api.cluster import ClusterEvents
from core.api.events import Event, EventBus
from core.api.joins import Joins
from core.api.pages import CLIENT_SCRIPT_ROUTE, Pages
from core.api.registry import Registry
from core.api.routes import Routes
from core.base.tasks import TaskSet
from core.host.config import AppConfig, ConfigError
from core.host.connections import namespace_policy
from core.host.plugins import run_lifecycle_hooks, set_up_plugins
from core.policies.health import add_health_route, add_metrics_route, add_probe_routes
from core.policies.limits import Limits
from core.policies.metrics import Metrics
from core.policies.origins import origin_policy
from core.policies.workers import engine_transports, refuse_polling
from core.sio.internals import sessions_by_transport, start_manager
from core.sio.binding import SocketServer, bind
from core.sio.recovery import Recovery
from core.sio.server import PacketJson

log = logging.getLogger("chat.core")


def _page_transports(config: AppConfig) -> list[str]:
    """Transports the pages ask for: long-polling needs sticky sessions, so several workers use websocket."""
    if config.server.workers > 1 and "websocket" in config.server.transports:
        return ["websocket"]
    return list(config.server.transports)


def _manage_backplane(app: Sanic, sio: SocketServer, backplane: Backplane) -> None:
    """Connect the backplane when the server starts (not at the first client), close it last."""

    async def start(app: Sanic):
        start_manager(sio)
        await backplane.start()

    async def stop(app: Sanic):
        await backplane.close()

    app.register_listener(start, "after_server_start")
    # Sanic runs stop listeners in reverse order of registration: this one, registered after
    # bind(), flushes the backplane before bind's clean-up cancels what is left.
    app.register_listener(stop, "after_server_stop")


def _enable_recovery(app: Sanic, sio: SocketServer, config: AppConfig, registry: Registry) -> None:
    """Connection-state recovery (core/sio/recovery.py): kept state, offsets, the recover hooks."""
    recovery = Recovery(config.server.connection_state_recovery, sio.manager)
    sio.recovery = sio.manager.recovery = recovery

    async def recovered(sid: str, namespace: str, missed: int) -> None:
        for hook in registry.hooks_for(registry.recover_hooks, namespace):
            try:
                await hook(sid, missed)
            except Exception:
                log.exception("recover hook %s failed for %s", hook.__qualname__, sid)

    async def shutting_down(app: Sanic):
        recovery.shutting_down = True  # the clients closed now may come back to another process

    recovery.on_recovered = recovered
    # Registered after bind(): Sanic runs before_server_stop listeners last-registered first.
    app.register_listener(shutting_down, "before_server_stop")


def _collect_figures(metrics: Metrics, sio: SocketServer, backplane: Backplane, registry: Registry) -> None:
    """The gauges /metrics reads at each scrape: the same figures /healthz shows."""
    metrics.count_transports(lambda: sessions_by_transport(sio.eio))
    metrics.add_source("backplane", backplane.health)
    metrics.add_source("transport", sio.eio.transport_policy.health)
    if sio.recovery is not None:
        metrics.add_source("recovery", sio.recovery.health)
    for plugin, report in registry.health_reports.items():
        metrics.add_source(f"plugin.{plugin}", report)


def create_app(config: AppConfig, name: str = "chat") -> Sanic:
    """Build the app; raise ConfigError listing every problem the plugins reported."""
    server = config.server
    app = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = server.access_log
    app.config.MOTD = False
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = server.shutdown_timeout
    app.config.KEEP_ALIVE_TIMEOUT = 75  # longer than a polling cycle
    # Where the real client address, scheme and host are (request.remote_addr, scheme, host).
    app.config.PROXIES_COUNT = server.proxies_count or None
    app.config.FORWARDED_SECRET = server.forwarded_secret or None
    app.config.REAL_IP_HEADER = server.real_ip_header or None

    backplane: Backplane = config.backplane.module.create(
        config.backplane.config, logging.getLogger(f"chat.backplane.{config.backplane.kind}"))
    sio = SocketServer(
        client_manager=backplane.manager,
        cors_allowed_origins=origin_policy(server),
        ping_interval=server.ping_interval,
        ping_timeout=server.ping_timeout,
        transports=engine_transports(server),
        connect_timeout=server.connect_timeout,
        http_compression=server.polling_compression_threshold > 0,
        compression_threshold=server.polling_compression_threshold or 1024,
        logger=False,
        engineio_logger=False,
        json=PacketJson,
        # Handlers run in the connection's own read loop: one client's events are handled in
        # the order sent, and no task is created per message.
        async_handlers=False,
    )
    tasks = TaskSet()
    sio.track_tasks(tasks)
    refuse_polling(app, server)  # several workers: websocket only (core/policies/workers.py)
    bind(app, sio, server)
    _manage_backplane(app, sio, backplane)

    limits = Limits(sio, server)
    registry = Registry(limits.admit)
    metrics = registry.metrics = sio.manager.metrics = Metrics() if server.metrics else None
    if server.connection_state_recovery.enabled:
        _enable_recovery(app, sio, config, registry)
    joins = Joins(sio, registry, tasks)
    registry.open_namespace = namespace_policy(sio, registry, limits, joins, metrics)
    registry.use_namespace("/")  # the default namespace is served even when no plugin uses it
    routes = Routes(app, registry.problems)
    for path in ("/healthz", "/healthz/live", "/healthz/ready", "/metrics", CLIENT_SCRIPT_ROUTE,
                 "/socket.io/"):
        routes.claim("core", path, ("GET",))
    host = Host(sio=sio, server=server, events=EventBus(tasks, logging.getLogger("chat.events")),
                pages=Pages(app, server, _page_transports(config), routes), routes=routes,
                registry=registry, tasks=tasks, backplane=backplane, joins=joins)
    # cluster=True events travel through the backplane and come back to every process's bus.
    host.events.remote = ClusterEvents(backplane, host.events.deliver, Event,
                                       logging.getLogger("chat.events")).publish
    set_up_plugins(config.plugins, host)
    if registry.problems:
        raise ConfigError(registry.problems)
    run_lifecycle_hooks(app, registry)
    host.pages.add_index()
    host.pages.add_client_script()
    add_health_route(app, sio, config.backplane.kind, backplane.health, registry.health_reports)
    add_probe_routes(app, backplane.health, server.readiness_max_read_lag)
    if metrics is not None:
        _collect_figures(metrics, sio, backplane, registry)
        add_metrics_route(app, metrics)

    app.ctx.sio = sio
    app.ctx.tasks = tasks  # the connections' tasks join it too (core.transport.http)
    app.ctx.backplane = backplane
    app.ctx.limits = limits
    app.ctx.config = config
    app.ctx.pages = host.pages
    app.ctx.host = host
    return app

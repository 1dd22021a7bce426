"""The app factory: one Sanic app, one Socket.IO server, the backplane and the enabled plugins."""

from __future__ import annotations

import logging
from pathlib import Path

from sanic import Sanic

from core.sio.binding import SocketServer, bind
from core.host.config import AppConfig, ConfigError
from core.api.events import EventBus
from core.api.params import error_ack
from core.policies.health import add_health_route
from core.policies.limits import Limits
from core.policies.origins import origin_policy
from core.api.pages import Pages
from core.api.context import PluginContext, Registry
from core.base.settings import ServerSettings
from core.sio.server import PacketJson

log = logging.getLogger("chat.core")


def _page_transports(config: AppConfig) -> list[str]:
    """Transports the pages ask for: long-polling needs sticky sessions, so several workers use websocket."""
    if config.server.workers > 1 and "websocket" in config.server.transports:
        return ["websocket"]
    return list(config.server.transports)


def _manage_backplane(app: Sanic, sio: SocketServer) -> None:
    """Connect the backplane when the server starts (not at the first client), close it last."""

    async def start(app: Sanic):
        if not sio.manager_initialized:
            sio.manager_initialized = True
            sio.manager.initialize()

    async def stop(app: Sanic):
        close = getattr(sio.manager, "close", None)
        if close is not None:
            await close()

    app.register_listener(start, "after_server_start")
    # Sanic runs stop listeners in reverse order of registration: this one, registered after
    # bind(), flushes the backplane before bind's clean-up cancels what is left.
    app.register_listener(stop, "after_server_stop")


def _register_core_events(sio: SocketServer, registry: Registry, limits: Limits) -> None:
    async def connect(sid, environ, auth=None):
        limits.connection_opened(environ)  # may refuse: too many from this address
        try:
            for hook in registry.connect_hooks:
                await hook(sid, environ, auth)  # ConnectionRefused propagates as connect_error
        except BaseException:
            limits.connection_closed(environ)
            raise

    async def disconnect(sid, reason=None):
        limits.connection_closed(sio.get_environ(sid) or {})
        for hook in registry.disconnect_hooks:
            try:
                await hook(sid, reason)
            except Exception:
                log.exception("disconnect hook %s failed for %s", hook.__qualname__, sid)

    async def unknown_event(event, sid, *args):
        refused = await limits.admit(sid, event)
        if refused:
            return error_ack(refused)
        log.debug("ignored unknown event %r from %s", event, sid)
        return error_ack(f"unknown event {event!r}")

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("*", unknown_event)


def create_app(config: AppConfig, name: str = "chat") -> Sanic:
    """Build the app; raise ConfigError listing every problem the plugins reported."""
    server = config.server
    app = Sanic(name, configure_logging=False)
    app.config.ACCESS_LOG = server.access_log
    app.config.MOTD = False
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = server.shutdown_timeout
    app.config.KEEP_ALIVE_TIMEOUT = 75  # longer than a polling cycle

    manager = config.backplane.module.create(config.backplane.config,
                                             logging.getLogger(f"chat.backplane.{config.backplane.kind}"))
    sio = SocketServer(
        client_manager=manager,
        cors_allowed_origins=origin_policy(server),
        ping_interval=server.ping_interval,
        ping_timeout=server.ping_timeout,
        transports=list(server.transports),
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
    bind(app, sio, server)
    _manage_backplane(app, sio)

    limits = Limits(sio, server)
    registry = Registry(limits.admit)
    events = EventBus(app, log)
    pages = Pages(app, server, _page_transports(config))
    _register_core_events(sio, registry, limits)
    for spec in config.plugins:
        ctx = PluginContext(spec.name, Path(spec.module.__file__).parent, spec.config, app=app,
                            sio=sio, server=server, events=events, pages=pages, registry=registry)
        try:
            spec.module.setup(ctx)
        except Exception as exc:
            registry.problems.append(f"plugins.{spec.name}: setup failed: {type(exc).__name__}: {exc}")
    if registry.problems:
        raise ConfigError(registry.problems)
    pages.add_index()
    pages.add_client_script()
    add_health_route(app, sio, config.backplane.kind)

    app.ctx.sio = sio
    app.ctx.limits = limits
    app.ctx.config = config
    app.ctx.pages = pages
    return app

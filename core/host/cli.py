"""`python run.py`: read the config, build the app, serve it with Sanic's own server."""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import socket
import sys
from functools import partial
from pathlib import Path

from sanic import Sanic
from sanic.worker.loader import AppLoader

from core.host.app import create_app
from core.host.logs import configure_logging, share_metrics_between_workers
from core.host.config import ROOT, AppConfig, ConfigError, Override, load_config
from core.transport.http import ChatProtocol

# Sanic's default of 100 overflows when thousands of clients reconnect at once.
LISTEN_BACKLOG = 1024
# Collect the youngest objects every 10,000 allocations instead of 700: with thousands of
# connections the default spends a fifth of a connection storm's CPU in collections. The middle
# generation stays small (10), because its collections are the pauses a storm's tail latency
# is made of (docs/performance.md).
GC_THRESHOLDS = (10_000, 10, 100)


def tune_gc() -> None:
    """Leave what start-up built out of every collection, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def default_config_path() -> str:
    """$CHAT_CONFIG, else config.yaml here, else the project's own (run.py from another folder)."""
    if os.environ.get("CHAT_CONFIG"):
        return os.environ["CHAT_CONFIG"]
    return "config.yaml" if Path("config.yaml").is_file() else str(ROOT / "config.yaml")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Sanic + Socket.IO chat server")
    parser.add_argument("--config", default=None,
                        help="YAML config file (default: $CHAT_CONFIG, else config.yaml in this "
                             "folder, else the project's config.yaml)")
    parser.add_argument("--host", help="listen address (overrides server.host)")
    # Typed by the config validation, so that `--port abc` is reported like any other value.
    parser.add_argument("--port", help="listen port (overrides server.port)")
    parser.add_argument("--workers", help="worker processes (overrides server.workers)")
    parser.add_argument("--public-url", help="where standalone pages connect, e.g. "
                                             "https://chat.example.org (overrides server.public_url)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="overrides server.log_level")
    args = parser.parse_args(argv)
    if args.config is None:
        args.config = default_config_path()
    return args


def _cli_value(text: str | None):
    return int(text) if isinstance(text, str) and text.isdigit() else text


def cli_overrides(args: argparse.Namespace) -> list[Override]:
    pairs = (("host", "--host", args.host), ("port", "--port", _cli_value(args.port)),
             ("workers", "--workers", _cli_value(args.workers)),
             ("public_url", "--public-url", args.public_url), ("log_level", "--log-level", args.log_level))
    return [Override(["server", key], value, flag) for key, flag, value in pairs if value is not None]


def _load(args: argparse.Namespace) -> AppConfig:
    config = load_config(args.config, overrides=cli_overrides(args))
    configure_logging(config.server.log_level, config.server.log_format)
    return config


def listen_problem(host: str, port: int) -> str | None:
    """Why Sanic could not listen on host:port (a typo in the host, a port in use), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"server.host: cannot listen on {host!r}: {exc.strerror} (a typo in the host name?)"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Sanic binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"server.port: port {port} on {host} is already in use (another server "
                        f"running? stop it, or choose another port with --port)")
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"server.host: {host!r} is not an address of this machine"
            if exc.errno == errno.EACCES:
                return f"server.port: not allowed to listen on port {port} (ports below 1024 need root)"
            return f"server.host/port: cannot listen on {host}:{port}: {exc.strerror}"
    return None


def startup_notes(config: AppConfig) -> None:
    """Log what the operator should know before the first client comes."""
    log = logging.getLogger("chat")
    for warning in config.warnings:
        log.warning("%s", warning)
    server = config.server
    if not server.behind_proxy:
        log.info("at most %d connections per client address (server.max_connections_per_address) "
                 "and no proxy setting: behind a reverse proxy every client has the proxy's "
                 "address; set server.proxies_count, forwarded_secret or real_ip_header",
                 server.max_connections_per_address)


def _worker_app(args: argparse.Namespace) -> Sanic:
    """Build the app in a worker process; it gets the parsed arguments (picklable), not the config."""
    app = create_app(_load(args))
    tune_gc()
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = _load(args)
        app = create_app(config)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    server = config.server
    problem = listen_problem(server.host, server.port)
    if problem:
        print(f"cannot start: {problem}", file=sys.stderr)
        return 2
    startup_notes(config)
    # Sanic suggests its own --dev flag on a terminal; run.py has no such flag.
    os.environ.setdefault("SANIC_IGNORE_PRODUCTION_WARNING", "1")
    logging.getLogger("chat").info(
        "serving on http://%s:%d (backplane: %s, plugins: %s)", server.host, server.port,
        config.backplane.kind, ", ".join(p.name for p in config.plugins) or "none")
    app.prepare(host=server.host, port=server.port, workers=server.workers,
                single_process=server.workers == 1, backlog=LISTEN_BACKLOG, protocol=ChatProtocol,
                access_log=server.access_log, motd=False)
    if server.workers == 1:
        tune_gc()
        Sanic.serve_single(app)
    else:
        if server.metrics:
            share_metrics_between_workers()  # the workers, started next, import prometheus_client
        Sanic.serve(primary=app, app_loader=AppLoader(factory=partial(_worker_app, args)))
    return 0

"""`python run.py`: read the config, build the app, serve it with Sanic's own server."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from core.host.app import create_app
from core.host.logs import configure_logging, share_metrics_between_workers
from core.host.config import AppConfig, ConfigError, load_config
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Sanic + Socket.IO chat server")
    parser.add_argument("--config", default=os.environ.get("CHAT_CONFIG", "config.yaml"),
                        help="YAML config file (default: $CHAT_CONFIG or config.yaml)")
    parser.add_argument("--host", help="listen address (overrides server.host)")
    parser.add_argument("--port", type=int, help="listen port (overrides server.port)")
    parser.add_argument("--workers", type=int, help="worker processes (overrides server.workers)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="overrides server.log_level")
    return parser.parse_args(argv)


def cli_overrides(args: argparse.Namespace) -> list[tuple[list[str], object]]:
    pairs = (("host", args.host), ("port", args.port), ("workers", args.workers),
             ("log_level", args.log_level))
    return [(["server", key], value) for key, value in pairs if value is not None]


def _load(args: argparse.Namespace) -> AppConfig:
    config = load_config(args.config, overrides=cli_overrides(args))
    configure_logging(config.server.log_level, config.server.log_format)
    return config


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
        print(f"{args.config}: {exc.report()}", file=sys.stderr)
        return 2
    server = config.server
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

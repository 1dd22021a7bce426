"""Set the enabled plugins up: one context each, failures reported with their place, lifecycle hooks."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

from sanic import Sanic

from core.api.context import Host, PluginContext
from core.api.registry import Registry
from core.host.discovery import PluginSpec

log = logging.getLogger("chat.core")


def plugin_folder(spec: PluginSpec) -> Path:
    """The folder of a plugin package (templates/, static/), or of a single-module plugin."""
    return Path(spec.module.__file__).resolve().parent


def failure_site(exc: BaseException, spec: PluginSpec) -> str:
    """'file:line' of the innermost frame in the plugin's own files (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    folder = plugin_folder(spec)
    is_package = Path(spec.module.__file__).name == "__init__.py"
    own = [f for f in frames if (Path(f.filename).resolve().is_relative_to(folder) if is_package
                                 else Path(f.filename).resolve() == Path(spec.module.__file__).resolve())]
    frame = (own or frames)[-1]
    shown = os.path.relpath(frame.filename) if not os.path.relpath(frame.filename).startswith("..") \
        else frame.filename
    return f"{shown}:{frame.lineno}"


def set_up_plugins(specs: list[PluginSpec], host: Host) -> None:
    """Call every plugin's setup(ctx); a raising setup becomes a problem naming file and line."""
    for spec in specs:
        ctx = PluginContext(spec.name, plugin_folder(spec), spec.config, host)
        try:
            spec.module.setup(ctx)
        except Exception as exc:
            host.registry.problems.append(f"plugins.{spec.name}: setup failed: {type(exc).__name__}: "
                                          f"{exc} (at {failure_site(exc, spec)})")
    host.pages.check_extensions(host.registry.problems)


def run_lifecycle_hooks(app: Sanic, registry: Registry) -> None:
    """on_startup hooks once the server listens; on_shutdown hooks before clients are told to go."""

    async def run(hooks, what: str):
        for hook in hooks:
            try:
                await hook()
            except Exception:
                log.exception("%s hook %s failed", what, getattr(hook, "__qualname__", hook))

    async def startup(app: Sanic):
        await run(registry.startup_hooks, "startup")

    async def shutdown(app: Sanic):
        await run(registry.shutdown_hooks, "shutdown")

    app.register_listener(startup, "after_server_start")
    # Sanic runs before_server_stop listeners in reverse order of registration: registered after
    # core.sio.binding.bind(), this one runs before the clients are disconnected.
    app.register_listener(shutdown, "before_server_stop")

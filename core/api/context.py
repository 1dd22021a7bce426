"""What a plugin gets: `PluginContext`, handed to its `setup(ctx)`, and the base of its typed config."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

import socketio
from pydantic import BaseModel
from sanic import Sanic
from socketio.exceptions import ConnectionRefusedError as ConnectionRefused

from core.api.events import EventBus
from core.api.params import Admit, ClientError, Param, guarded
from core.api.pages import Pages, template_environment
from core.base.settings import ServerSettings, Settings
from core.sio.server import RESERVED_EVENTS

__all__ = ["ClientError", "ConnectionRefused", "Param", "PluginConfig", "PluginContext"]



class PluginConfig(Settings):
    """Base of a plugin's `Config`: typed options with defaults, unknown keys refused."""


class Registry:
    """What the plugins registered, shared by their contexts: event owners, hooks, problems."""

    def __init__(self, admit: Admit):
        self.admit = admit  # the rate limiter every event passes first
        self.event_owners: dict[str, str] = {}
        self.connect_hooks: list[Callable[..., Awaitable[Any]]] = []
        self.disconnect_hooks: list[Callable[..., Awaitable[Any]]] = []
        self.problems: list[str] = []


class PluginContext:
    """Everything a plugin may use; a plugin reaches nothing else (no globals, no other plugin)."""

    def __init__(self, name: str, folder: Path, config: BaseModel, *, app: Sanic,
                 sio: socketio.AsyncServer, server: ServerSettings, events: EventBus,
                 pages: Pages, registry: Registry):
        self.name = name
        self.app = app
        self.sio = sio
        self.config = config
        self.server = server
        self.logger = logging.getLogger(f"chat.plugins.{name}")
        self._events = events
        self._pages = pages
        self._registry = registry
        self._templates = template_environment(folder / "templates")

    # Socket.IO events -------------------------------------------------------------------

    def on(self, event: str, *params: Param):
        """Decorator: handle `event` whose arguments must pass `params`; every call is acked."""

        def register(handler: Callable[..., Awaitable[Any]]):
            owner = self._registry.event_owners.get(event)
            if event in RESERVED_EVENTS:
                self._registry.problems.append(
                    f"plugins.{self.name}: event {event!r} is reserved; use on_connect/on_disconnect")
            elif owner is not None:
                self._registry.problems.append(
                    f"plugins.{self.name}: event {event!r} is already handled by plugin {owner!r}")
            else:
                self._registry.event_owners[event] = self.name
                self.sio.on(event, guarded(event, params, handler, self.logger, self.describe,
                                           self._registry.admit))
            return handler

        return register

    def on_connect(self, hook: Callable[[str, dict, Any], Awaitable[Any]]):
        """Decorator: hook(sid, environ, auth) runs on connect; raise ConnectionRefused to refuse."""
        self._registry.connect_hooks.append(hook)
        return hook

    def on_disconnect(self, hook: Callable[[str, str], Awaitable[Any]]):
        """Decorator: hook(sid, reason) runs on disconnect, while the client is still in its rooms."""
        self._registry.disconnect_hooks.append(hook)
        return hook

    def client_address(self, sid: str) -> str:
        """The client's IP address as the server saw it (or as a trusted proxy reported it)."""
        environ = self.sio.get_environ(sid) or {}
        return environ.get("REMOTE_ADDR", "")

    def describe(self, sid: str) -> str:
        """A short client label for log lines."""
        return f"{sid} ({self.client_address(sid) or 'unknown address'})"

    def session(self, sid: str) -> "SessionPart":
        """`async with ctx.session(sid) as state`: this plugin's part of the connection's session."""
        return SessionPart(self.sio, sid, self.name)

    # Internal events ---------------------------------------------------------------------

    async def publish(self, event: str, /, **payload: Any) -> None:
        """Tell subscribers (other plugins) that something happened; names like chat.message.sent."""
        await self._events.publish(event, plugin=self.name, **payload)

    def subscribe(self, event: str):
        """Decorator: handler(**payload) runs for every publish of event."""

        def register(handler):
            self._events.subscribe(event, handler)
            return handler

        return register

    # Pages ---------------------------------------------------------------------------------

    def add_page(self, path: str, template: str, title: str, *,
                 standalone_path: str | None = None, **context: Any) -> None:
        """Serve a template from this plugin's templates/ folder (and a file:// copy)."""
        self._pages.add(self.name, self._templates, path, template, title, standalone_path, **context)


class SessionPart:
    """One plugin's dict in a connection's session, as an async context manager (changes are kept).

    get_session() hands out the live per-connection dict, so there is nothing to save on exit;
    sio.session() would build a class on every call, and a generator-based context manager
    costs a generator and its frames per message.
    """

    __slots__ = ("_sio", "_sid", "_name")

    def __init__(self, sio, sid: str, name: str):
        self._sio, self._sid, self._name = sio, sid, name

    async def __aenter__(self) -> dict:
        session = await self._sio.get_session(self._sid)
        return session.setdefault(self._name, {})

    async def __aexit__(self, *exc_info) -> bool:
        return False

"""What a plugin gets: `PluginContext`, handed to its `setup(ctx)`, and the base of its typed config."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from pydantic import BaseModel
from socketio.exceptions import ConnectionRefusedError as ConnectionRefused

from core.api.cluster import Cluster
from core.api.events import Event, EventBus
from core.api.handlers import guarded
from core.api.i18n import LANGUAGES, Catalogue, negotiate
from core.api.joins import Join, Joins
from core.api.pages import CORE_TEMPLATES, Pages, template_environment
from core.api.params import check_params
from core.api.registry import ALL_NAMESPACES, NamespacedHook, Registry
from core.api.rooms import Outgoing, audience_key, public_rooms, room_key, run_before_send
from core.api.routes import Routes
from core.backplane.base import Backplane, Store
from core.base.settings import ServerSettings, Settings
from core.base.tasks import TaskSet
from core.sio.holds import MESSAGE_ID, new_message_id
from core.sio.server import RESERVED_EVENTS

__all__ = ["ConnectionRefused", "PluginConfig", "PluginContext"]


class PluginConfig(Settings):
    """Base of a plugin's `Config`: typed options with defaults, unknown keys refused."""


@dataclass
class Host:
    """The server's parts the contexts share; private to core (plugins see only PluginContext)."""

    sio: Any  # core.sio.binding.SocketServer
    server: ServerSettings
    events: EventBus
    pages: Pages
    routes: Routes
    registry: Registry
    tasks: TaskSet
    backplane: Backplane
    joins: Joins | None = None


def _check_namespace(namespace: str, allow_all: bool = False) -> None:
    if allow_all and namespace == ALL_NAMESPACES:
        return
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        raise ValueError(f"a namespace starts with '/' (like '/admin'), not {namespace!r}")


class PluginContext:
    """Everything a plugin may use; a plugin reaches nothing else (no globals, no other plugin)."""

    def __init__(self, name: str, folder: Path, config: BaseModel, host: Host):
        self.name = name
        self.config = config
        self.server = host.server
        self.logger = logging.getLogger(f"chat.plugins.{name}")
        self._folder = folder
        self._host = host
        self._sio = host.sio
        self._registry = host.registry
        self._templates = template_environment(folder / "templates")
        # State shared by every process (namespaced per plugin) and the cluster-wide queries.
        self.store: Store = host.backplane.store(name)
        self.cluster = Cluster(host.backplane, name, room_key, host.registry.problems)
        # messages/<lang>.json of core's templates/, then of the plugin's folder (which wins).
        self.messages = Catalogue(CORE_TEMPLATES, folder)
        self.languages = LANGUAGES

    def _problem(self, text: str) -> None:
        self._registry.problems.append(f"plugins.{self.name}: {text}")

    # Socket.IO events -------------------------------------------------------------------

    def on(self, event: str, *params, namespace: str = "/"):
        """Decorator: handle `event` (in namespace) whose arguments must pass `params`; every call is acked."""
        _check_namespace(namespace)
        wrong = check_params(params)
        if wrong:
            raise TypeError(f"ctx.on({event!r}): {wrong}")

        def register(handler: Callable[..., Awaitable[Any]]):
            owner = self._registry.event_owners.get((namespace, event))
            where = "" if namespace == "/" else f" in namespace {namespace!r}"
            if event in RESERVED_EVENTS:
                self._problem(f"event {event!r} is reserved; use on_connect/on_disconnect")
            elif owner is not None:
                self._problem(f"event {event!r}{where} is already handled by plugin {owner!r}")
            else:
                self._registry.event_owners[(namespace, event)] = self.name
                self._registry.use_namespace(namespace)
                self._sio.on(event, guarded(event, namespace, params, handler, self.logger,
                                            self.describe, self._registry.admit,
                                            self._registry.metrics), namespace=namespace)
            return handler

        return register

    def _hook(self, hooks: list[NamespacedHook], hook, namespace: str):
        _check_namespace(namespace, allow_all=True)

        def register(fn):
            self._registry.use_namespace(namespace)
            hooks.append(NamespacedHook(namespace, fn))
            return fn

        return register(hook) if hook is not None else register

    def on_connect(self, hook=None, *, namespace: str = "/"):
        """Decorator: hook(sid, environ, auth) on connect to namespace ("*": all); raise ConnectionRefused to refuse."""
        return self._hook(self._registry.connect_hooks, hook, namespace)

    def on_disconnect(self, hook=None, *, namespace: str = "/"):
        """Decorator: hook(sid, reason) on disconnect from namespace ("*": all), while still in its rooms."""
        return self._hook(self._registry.disconnect_hooks, hook, namespace)

    def on_recover(self, hook=None, *, namespace: str = "/"):
        """Decorator: hook(sid, missed) when a dropped connection came back with its rooms and session."""
        return self._hook(self._registry.recover_hooks, hook, namespace)

    def recoverable(self, sid: str) -> bool:
        """In an on_disconnect hook: whether this connection's state is kept for it to come back."""
        recovery = getattr(self._sio, "recovery", None)
        return recovery is not None and sid in recovery.pending

    def on_join(self, hook=None, *, namespace: str = "/"):
        """Decorator: async hook(join) after a socket entered a room or connected; returns the message ids it sent."""
        return self._hook(self._registry.join_hooks, hook, namespace)

    def health(self, report: Callable[[], dict]):
        """Decorator: report() -> dict of figures in /healthz under plugins.<name> ("ok": False degrades the status)."""
        self._registry.health_reports[self.name] = report
        return report

    def before_send(self, hook):
        """Decorator: hook(msg: Outgoing) -> Outgoing | None, once per ctx.emit; raise ClientError to refuse."""
        self._registry.before_send.append(hook)
        return hook

    # Sending and rooms --------------------------------------------------------------------

    async def emit(self, event: str, *args: Any, to: str | None = None, room: str | None = None,
                   skip_sid: str | list[str] | None = None, namespace: str = "/",
                   sender: str | None = None) -> str | None:
        """Send event(*args) to one sid (to=), a public room (room=) or everybody (neither); the message's id."""
        if to is not None and room is not None:
            raise ValueError("emit to one sid (to=) or one room (room=), not both")
        mid = new_message_id() if to is None else None
        if self._registry.before_send:
            msg = await run_before_send(self._registry.before_send, Outgoing(
                event, args, room=room, sender=sender, to=to, namespace=namespace, id=mid))  # may raise ClientError
            event, args, room, to, namespace, mid = msg.event, msg.args, msg.room, msg.to, msg.namespace, msg.id
        target = to if to is not None else room_key(room) if room is not None else None
        if to is not None:
            mid = None
        # The fan-out and the backplane read the id from here (core/sio/holds.py).
        token = MESSAGE_ID.set(mid)
        try:
            # A tuple is Socket.IO's "several arguments" (and keeps a single None one argument).
            await self._sio.emit(event, tuple(args), to=target, skip_sid=skip_sid, namespace=namespace)
        finally:
            MESSAGE_ID.reset(token)
        return mid

    async def emit_localised(self, event: str, render: Callable[[str], Any], *, room: str,
                             skip_sid: str | list[str] | None = None, namespace: str = "/",
                             sender: str | None = None) -> None:
        """Send event(render(lang)) to the members of a public room, each in its own language."""
        for lang in LANGUAGES:
            args = render(lang)
            msg = Outgoing(event, args if isinstance(args, tuple) else (args,), room=room,
                           sender=sender, namespace=namespace)
            if self._registry.before_send:
                msg = await run_before_send(self._registry.before_send, msg)
            await self._sio.emit(msg.event, tuple(msg.args), to=audience_key(msg.room, lang),
                                 skip_sid=skip_sid, namespace=msg.namespace)

    async def enter_room(self, sid: str, room: str, namespace: str = "/") -> None:
        """Put sid in the public room `room` (shared by every plugin: group_chat's "room1" is "room1")."""
        # The room's audience of this connection's language, which emit_localised reaches.
        await self._sio.enter_room(sid, audience_key(room, self.language(sid, namespace)), namespace=namespace)
        joins = self._host.joins
        key = room_key(room)
        if joins is None or key in self._sio.rooms(sid, namespace=namespace):
            await self._sio.enter_room(sid, key, namespace=namespace)
            return
        hold = joins.begin(sid, key, namespace)  # before the join: nothing of the room can slip past
        await self._sio.enter_room(sid, key, namespace=namespace)
        if hold is not None:
            joins.finish(hold, Join(sid, room, namespace))

    async def leave_room(self, sid: str, room: str, namespace: str = "/") -> None:
        """Take sid out of the public room `room`."""
        await self._sio.leave_room(sid, room_key(room), namespace=namespace)
        await self._sio.leave_room(sid, audience_key(room, self.language(sid, namespace)), namespace=namespace)

    def rooms(self, sid: str, namespace: str = "/") -> list[str]:
        """The public rooms a connection of this process is in."""
        return public_rooms(self._sio.rooms(sid, namespace=namespace))

    async def disconnect(self, sid: str, namespace: str = "/") -> None:
        """Disconnect sid from namespace (its disconnect hooks run)."""
        await self._sio.disconnect(sid, namespace=namespace)

    # Connections ---------------------------------------------------------------------------

    def client_address(self, sid: str, namespace: str = "/") -> str:
        """The client's IP address as the server saw it (or as a trusted proxy reported it)."""
        environ = self._sio.get_environ(sid, namespace=namespace) or {}
        return environ.get("REMOTE_ADDR", "")

    def language(self, sid: str, namespace: str = "/") -> str:
        """The connection's language: server.language, else its page's `lang`, else Accept-Language."""
        if self.server.language != "auto":
            return self.server.language
        environ = self._sio.get_environ(sid, namespace=namespace) or {}
        asked = parse_qs(environ.get("QUERY_STRING", "")).get("lang", [""])[0]
        return negotiate(asked or environ.get("HTTP_ACCEPT_LANGUAGE"))

    def describe(self, sid: str, namespace: str = "/") -> str:
        """A short client label for log lines."""
        return f"{sid} ({self.client_address(sid, namespace) or 'unknown address'})"

    def session(self, sid: str, namespace: str = "/") -> "SessionPart":
        """`async with ctx.session(sid) as state`: this plugin's part of the connection's session."""
        return SessionPart(self._sio, sid, self.name, namespace)

    # Internal events and lifecycle ---------------------------------------------------------

    async def publish(self, event: Event, *, cluster: bool = False) -> None:
        """Hand a typed event (MessageSent, ...) to its subscribers; cluster=True: on every process."""
        if not isinstance(event, Event):
            raise TypeError(f"ctx.publish takes an Event dataclass such as MessageSent, not {event!r}")
        await self._host.events.publish(dataclasses.replace(event, plugin=self.name), cluster=cluster)

    def subscribe(self, event_class: type):
        """Decorator: async handler(event) runs for every published event of event_class."""

        def register(handler):
            self._host.events.subscribe(event_class, handler)
            return handler

        return register

    def on_startup(self, hook):
        """Decorator: async hook() once the server is listening (and the backplane connected)."""
        self._registry.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook):
        """Decorator: async hook() when the server stops, before clients are disconnected."""
        self._registry.shutdown_hooks.append(hook)
        return hook

    # Pages and routes ----------------------------------------------------------------------

    def add_page(self, path: str, template: str, title: str | None, *,
                 standalone_path: str | None = None, **context: Any) -> None:
        """Serve a template from this plugin's templates/ folder (and a file:// copy); title None: the catalogue's."""
        self._host.pages.add(self.name, self._templates, path, template, title, standalone_path,
                             catalogue=self.messages, **context)

    def extend_page(self, page_path: str, *, script: str | None = None, style: str | None = None) -> None:
        """Add a script and/or stylesheet from this plugin's static/ folder to the page at page_path."""
        self._host.pages.extend(self.name, self._folder, page_path, script, style, self._registry.problems)

    def add_route(self, handler: Callable[..., Awaitable[Any]], path: str,
                  methods: tuple[str, ...] = ("GET",)) -> None:
        """Serve async handler(request) at path; return a dict/list (JSON), a str or json_response(...)."""
        self._host.routes.add(f"plugins.{self.name}", handler, path, tuple(methods))


class SessionPart:
    """One plugin's dict in a connection's session, as an async context manager (changes are kept).

    get_session() hands out the live per-connection dict, so there is nothing to save on exit;
    sio.session() would build a class on every call, and a generator-based context manager
    costs a generator and its frames per message.
    """

    __slots__ = ("_sio", "_sid", "_name", "_namespace")

    def __init__(self, sio, sid: str, name: str, namespace: str = "/"):
        self._sio, self._sid, self._name, self._namespace = sio, sid, name, namespace

    async def __aenter__(self) -> dict:
        session = await self._sio.get_session(self._sid, namespace=self._namespace)
        return session.setdefault(self._name, {})

    async def __aexit__(self, *exc_info) -> bool:
        return False

"""Core's connect policy, installed on every namespace a plugin uses: address cap, hooks, unknown events."""

from __future__ import annotations

import logging

from core.api.context import ConnectionRefused
from core.api.joins import Join, Joins
from core.api.params import error_ack
from core.api.registry import Registry
from core.policies.limits import Limits
from core.sio.internals import transport_of

log = logging.getLogger("chat.core")


def log_connection(event: str, **fields) -> None:
    """One INFO line per connect and disconnect; the JSON log format gets the same fields."""
    log.info(" ".join([event, *(f"{key}={value}" for key, value in fields.items())]),
             extra={"fields": {"event": event, **fields}})


def namespace_policy(sio, registry: Registry, limits: Limits, joins: Joins | None = None, metrics=None):
    """open_namespace(ns): register core's connect, disconnect and unknown-event handlers for ns.

    The origin check happens before any namespace (Engine.IO's handshake); the per-address cap,
    the auth and connect hooks (those for this namespace and those for "*", in registration
    order), the rate limit and the unknown-event answer apply to every namespace alike.
    """

    def open_namespace(namespace: str) -> None:
        async def connect(sid, environ, auth=None):
            limits.connection_opened(environ)  # may refuse: too many from this address
            recovery = sio.recovery
            recovered = recovery is not None and sid in recovery.restoring
            if recovered and not recovery.settings.run_connect_hooks:
                connected(sid, environ, namespace, recovered)
                return  # a recovered connection: it was let in before; plugins hear on_recover
            # The socket already gets the namespace's broadcasts (python-socketio adds it before
            # this handler runs): hold them for the join hooks before any connect hook can wait.
            # A recovered socket kept its page: no join hooks (history is not sent again).
            hold = joins.begin(sid, None, namespace) if joins is not None and not recovered else None
            try:
                for hook in registry.hooks_for(registry.connect_hooks, namespace):
                    await hook(sid, environ, auth)  # ConnectionRefused propagates as connect_error
                if hold is not None:
                    joins.finish(hold, Join(sid, None, namespace))
            except ConnectionRefused:
                if hold is not None:
                    hold.cancel()
                limits.connection_closed(environ)
                raise
            except BaseException as exc:
                if hold is not None:
                    hold.cancel()
                limits.connection_closed(environ)
                if not isinstance(exc, Exception):
                    raise
                # A hook's bug: logged with its traceback, the client told it is ours, not theirs.
                log.exception("connect hook failed for %s on %s", sid, namespace)
                raise ConnectionRefused("internal error") from None
            connected(sid, environ, namespace, recovered)

        def connected(sid, environ, namespace, recovered) -> None:
            if metrics is not None:
                metrics.connected(namespace)
            log_connection("connect", sid=sid, address=environ.get("REMOTE_ADDR", ""),
                           transport=transport_of(sio, sid, namespace), namespace=namespace,
                           recovered=bool(recovered))

        async def disconnect(sid, reason=None):
            environ = sio.get_environ(sid, namespace) or {}
            limits.connection_closed(environ)
            if metrics is not None:
                metrics.disconnected(reason)
            log_connection("disconnect", sid=sid, address=environ.get("REMOTE_ADDR", ""),
                           transport=transport_of(sio, sid, namespace), namespace=namespace,
                           reason=str(reason))
            for hook in registry.hooks_for(registry.disconnect_hooks, namespace):
                try:
                    await hook(sid, reason)
                except Exception:
                    log.exception("disconnect hook %s failed for %s", hook.__qualname__, sid)

        async def unknown_event(event, sid, *args):
            if metrics is not None:
                metrics.event_received(event)  # counted as "unknown": the client chose the name
            try:
                refused = await limits.admit(sid, event, namespace)
            except Exception:
                log.exception("rate limiter failed for %s", sid)
                return error_ack("internal error")
            if refused:
                return error_ack(refused)
            log.debug("ignored unknown event %r from %s on %s", event, sid, namespace)
            return error_ack(f"unknown event {event!r}")

        sio.on("connect", connect, namespace=namespace)
        sio.on("disconnect", disconnect, namespace=namespace)
        sio.on("*", unknown_event, namespace=namespace)

    return open_namespace

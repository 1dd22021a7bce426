"""What the plugins registered, shared by their contexts: handlers per namespace, hooks, problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from core.api.handlers import Admit
from core.api.rooms import BeforeSend

Hook = Callable[..., Awaitable[Any]]
ALL_NAMESPACES = "*"


@dataclass
class NamespacedHook:
    """A connect or disconnect hook and the namespace it is for ("*": every namespace)."""

    namespace: str
    hook: Hook


@dataclass
class Registry:
    """Event owners, hooks and the problems found while the plugins set up."""

    admit: Admit  # the rate limiter every event passes first
    # Called once for each namespace a plugin uses, so core's connect policy covers it.
    open_namespace: Callable[[str], None] = lambda namespace: None
    event_owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, event) -> plugin
    namespaces: set[str] = field(default_factory=set)
    connect_hooks: list[NamespacedHook] = field(default_factory=list)
    disconnect_hooks: list[NamespacedHook] = field(default_factory=list)
    recover_hooks: list[NamespacedHook] = field(default_factory=list)
    before_send: list[BeforeSend] = field(default_factory=list)
    join_hooks: list[NamespacedHook] = field(default_factory=list)  # core/api/joins.py
    health_reports: dict[str, Callable[[], dict]] = field(default_factory=dict)  # plugin -> figures
    startup_hooks: list[Hook] = field(default_factory=list)
    shutdown_hooks: list[Hook] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    metrics: Any = None  # core.policies.metrics.Metrics, when server.metrics is on

    def use_namespace(self, namespace: str) -> None:
        """Make sure core serves namespace (connect policy, unknown events) once."""
        if namespace != ALL_NAMESPACES and namespace not in self.namespaces:
            self.namespaces.add(namespace)
            self.open_namespace(namespace)

    def hooks_for(self, hooks: list[NamespacedHook], namespace: str) -> list[Hook]:
        """The hooks that run for a connection to namespace, in the order they were registered."""
        return [h.hook for h in hooks if h.namespace in (namespace, ALL_NAMESPACES)]

"""HTTP routes of plugins: one owner per method and path (checked like events), plain values as responses."""

from __future__ import annotations

import itertools
import re
from typing import Any, Awaitable, Callable

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json, text


def json_response(body: Any, status: int = 200) -> HTTPResponse:
    """A JSON response with a status, for route handlers that need more than `return {...}`."""
    return json(body, status=status)


def text_response(body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> HTTPResponse:
    """A text response (never HTML built from user text: pages are templates)."""
    return text(body, status=status, content_type=content_type)


def as_response(result: Any) -> HTTPResponse:
    """A handler's return value as a response: a response as is, dict/list as JSON, str as text."""
    if isinstance(result, HTTPResponse):
        return result
    if isinstance(result, (dict, list)):
        return json(result)
    if isinstance(result, str):
        return text(result)
    raise TypeError(f"a route handler returns a dict, a list, a str or json_response(...), "
                    f"not {type(result).__name__}")


class Routes:
    """Adds routes to the app, refusing a method and path somebody already serves."""

    def __init__(self, app: Sanic, problems: list[str]):
        self._app = app
        self._problems = problems
        self._owners: dict[tuple[str, str], str] = {}
        self._names = itertools.count(1)

    def claim(self, owner: str, path: str, methods: tuple[str, ...]) -> bool:
        """Record owner for each method at path; False (and a problem listed) on a clash."""
        if not isinstance(path, str) or not path.startswith("/"):
            self._problems.append(f"{owner}: route path {path!r} must start with /")
            return False
        clashes = [(m, self._owners[(m, path)]) for m in methods if (m, path) in self._owners]
        for method, other in clashes:
            self._problems.append(f"{owner}: route {method} {path} is already served by {other}")
        if clashes:
            return False
        for method in methods:
            self._owners[(method, path)] = owner
        return True

    def add(self, owner: str, handler: Callable[[Request], Awaitable[Any]], path: str,
            methods: tuple[str, ...] = ("GET",), name: str | None = None) -> None:
        """Serve handler(request) at path; its return value goes through as_response."""
        methods = tuple(m.upper() for m in methods)
        if not self.claim(owner, path, methods):
            return

        async def serve(request: Request, **params: str) -> HTTPResponse:
            # Path parameters (`/api/rooms/<roomId>/messages`) come as keyword arguments.
            return as_response(await handler(request, **params))

        # Sanic wants a unique identifier-like name per route.
        route_name = name or re.sub(r"\W", "_", f"{owner}{path}") + f"_{next(self._names)}"
        self._app.add_route(serve, path, methods=list(methods), name=route_name)

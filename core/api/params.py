"""What a handler declares and answers: argument checks (Param, Rest), ClientError, Ack."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

OK = {"ok": True}


class ClientError(Exception):
    """A request the client got wrong: answered with an error ack, logged on one line.

    `kind` says which sort of refusal it is, for the metrics (`chat_acks_refused{reason}`):
    "validation" (arguments), "not_member" (not in the room), or "refused" (anything else).
    """

    def __init__(self, message: str, kind: str = "refused"):
        super().__init__(message)
        self.kind = kind


def error_ack(reason: str) -> dict:
    """The acknowledgement for a refused request."""
    return {"ok": False, "error": reason}


Check = Callable[[Any], "str | None"]  # returns a reason when the value is wrong, else None


@dataclass(frozen=True)
class Param:
    """One positional argument of an event and the check it must pass."""

    name: str
    check: Check


@dataclass(frozen=True)
class Rest:
    """The remaining arguments (zero or more, at most max_count), each passing check; last in the list."""

    name: str
    check: Check
    max_count: int = 100


class Ack(tuple):
    """A handler's raw acknowledgement values: `return Ack(a, b)` answers the client's callback (a, b)."""

    def __new__(cls, *values: Any):
        return super().__new__(cls, values)

    def __repr__(self) -> str:
        return f"Ack{tuple.__repr__(self)}"


def any_json(max_bytes: int) -> Callable[[Any], str | None]:
    """Any JSON value (as the Node server relays it) that encodes within max_bytes."""

    def check(value: Any) -> str | None:
        try:
            # allow_nan=False: NaN and Infinity are not JSON, and browsers' JSON.parse rejects them.
            size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
        except (TypeError, ValueError):
            return "must be a JSON value (no binary data, NaN or Infinity)"
        return f"is too large ({size} bytes, at most {max_bytes})" if size > max_bytes else None

    return check


def json_object(max_bytes: int) -> Callable[[Any], str | None]:
    """A JSON object within max_bytes."""
    size_check = any_json(max_bytes)

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object, not {json_type(value)}"
        return size_check(value)

    return check


def binary(max_bytes: int) -> Check:
    """Bytes (a Buffer/ArrayBuffer/Blob the JS client sends as a binary attachment) of at most max_bytes."""

    def check(value: Any) -> str | None:
        if not isinstance(value, (bytes, bytearray)):
            return f"must be binary data, not {json_type(value)}"
        if len(value) > max_bytes:
            return f"is too large ({len(value)} bytes, at most {max_bytes})"
        return None

    return check


def text(max_length: int, allowed: re.Pattern | None = None) -> Callable[[Any], str | None]:
    """A non-empty string of at most max_length characters, not all white space, each `allowed`."""

    whole = re.compile(f"(?:{allowed.pattern})+", allowed.flags) if allowed is not None else None

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, not {json_type(value)}"
        if not value.strip():
            return "must not be empty"
        if len(value) > max_length:
            return f"is too long ({len(value)} characters, at most {max_length})"
        if whole is not None and not whole.fullmatch(value):
            bad = next((c for c in value if not allowed.fullmatch(c)), None)
            return f"contains a character that is not allowed ({bad!r})" if bad else \
                "does not match the allowed characters"
        return None

    return check


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "binary data" if isinstance(value, (bytes, bytearray)) else type(value).__name__


def check_params(params: tuple) -> str | None:
    """Why a declared parameter list is wrong (a Rest not last, not a Param), or None."""
    for index, param in enumerate(params):
        if isinstance(param, Rest):
            if index != len(params) - 1:
                return f"Rest({param.name!r}) must be the last parameter"
        elif not isinstance(param, Param):
            return f"parameters are Param(...) or Rest(...), not {param!r}"
    return None


def _count(params: tuple) -> str:
    fixed = [p.name for p in params if isinstance(p, Param)]
    rest = params[-1] if params and isinstance(params[-1], Rest) else None
    names = ", ".join(fixed + ([f"...{rest.name}"] if rest else []))
    if rest is None:
        return f"{len(fixed)} argument{'s' * (len(fixed) != 1)} ({names})"
    return f"{len(fixed)} to {len(fixed) + rest.max_count} arguments ({names})"


def check_args(event: str, params: tuple, args: tuple) -> None:
    """Raise ClientError when args do not match params (Param each, then an optional Rest)."""
    rest = params[-1] if params and isinstance(params[-1], Rest) else None
    fixed = len(params) - (rest is not None)
    extra = len(args) - fixed
    if extra < 0 or (rest is None and extra) or (rest is not None and extra > rest.max_count):
        raise ClientError(kind="validation", message=f"{event} expects {_count(params)}, got {len(args)}")
    for param, value in zip(params, args):
        if isinstance(param, Rest):
            break
        reason = param.check(value)
        if reason:
            raise ClientError(kind="validation", message=f"{event}: {param.name} {reason}")
    if rest is not None:
        for position, value in enumerate(args[fixed:], 1):
            reason = rest.check(value)
            if reason:
                raise ClientError(kind="validation", message=f"{event}: {rest.name}[{position}] {reason}")



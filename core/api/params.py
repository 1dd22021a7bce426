"""Socket.IO event handlers with argument checks, acknowledgements and one-line error logs."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

OK = {"ok": True}


class ClientError(Exception):
    """A request the client got wrong: answered with an error ack, logged on one line."""


def error_ack(reason: str) -> dict:
    """The acknowledgement for a refused request."""
    return {"ok": False, "error": reason}


@dataclass(frozen=True)
class Param:
    """One positional argument of an event and the check it must pass."""

    name: str
    check: Callable[[Any], str | None]  # returns a reason when the value is wrong


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


def check_args(event: str, params: tuple[Param, ...], args: tuple) -> None:
    """Raise ClientError when args do not match params."""
    if len(args) != len(params):
        names = ", ".join(p.name for p in params)
        raise ClientError(f"{event} expects {len(params)} argument{'s' * (len(params) != 1)} "
                          f"({names}), got {len(args)}")
    for param, value in zip(params, args):
        reason = param.check(value)
        if reason:
            raise ClientError(f"{event}: {param.name} {reason}")


Handler = Callable[..., Awaitable[Any]]


Admit = Callable[[str, str], Awaitable["str | None"]]


def guarded(event: str, params: tuple[Param, ...], handler: Handler, logger: logging.Logger,
            describe_client: Callable[[str], str], admit: Admit) -> Handler:
    """Wrap handler(sid, *args): rate-limited, arguments checked, always acked, never raising."""

    async def on_event(sid: str, *args: Any) -> dict:
        refused = await admit(sid, event)
        if refused:
            return error_ack(refused)  # the limiter logged it
        try:
            check_args(event, params, args)
            result = await handler(sid, *args)
        except ClientError as exc:
            logger.warning("refused %s from %s: %s", event, describe_client(sid), exc)
            return error_ack(str(exc))
        except Exception:
            # A bug on our side: one traceback in the log, a generic answer to the client.
            logger.exception("handler for %s failed (client %s)", event, describe_client(sid))
            return error_ack("internal error")
        return OK if result is None else result

    on_event.__name__ = f"on_{event}"
    return on_event

"""Socket.IO event handlers wrapped by core: rate-limited, arguments checked, always acked, never raising."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from core.api.params import OK, Ack, ClientError, check_args, error_ack
from core.backplane.base import RelayRefused, relay_outcome

Handler = Callable[..., Awaitable[Any]]
Admit = Callable[[str, str, str], Awaitable["str | None"]]  # (sid, event, namespace) -> refusal or None

INTERNAL_ERROR = error_ack("internal error")


def ack_value(result: Any) -> Any:
    """What the client's callback gets for a handler's return value (the ack convention).

    None -> {"ok": true}; a dict -> {"ok": true, **dict}; Ack(a, b) -> the raw values a, b
    (python-socketio sends a tuple as several ack arguments).
    """
    if result is None:
        return OK
    if isinstance(result, Ack):
        return tuple(result)
    if isinstance(result, dict):
        return {"ok": True, **result}
    raise TypeError(f"a handler returns None, a dict or Ack(...), not {type(result).__name__}")


def guarded(event: str, namespace: str, params: tuple, handler: Handler, logger: logging.Logger,
            describe_client: Callable[[str], str], admit: Admit, metrics=None) -> Handler:
    """Wrap handler(sid, *args): rate-limited, arguments checked, always acked, never raising."""
    if metrics is not None:
        metrics.known_event(event)

    async def on_event(sid: str, *args: Any) -> Any:
        if metrics is not None:
            metrics.event_received(event)
        try:
            refused = await admit(sid, event, namespace)
            if refused:
                if metrics is not None:
                    metrics.ack_refused("rate_limited")
                return error_ack(refused)  # the limiter logged it
            check_args(event, params, args)
            relay_outcome.set(None)  # the backplane's ack mode "relayed" says when a message waits
            answer = ack_value(await handler(sid, *args))
            if relay_outcome.get() == "queued" and isinstance(answer, dict):
                answer = {**answer, "queued": True}
            return answer
        except (ClientError, RelayRefused) as exc:
            logger.warning("refused %s from %s: %s", event, describe_client(sid), exc)
            if metrics is not None:
                metrics.ack_refused(getattr(exc, "kind", "backplane"))
            return error_ack(str(exc))
        except Exception:
            if metrics is not None:
                metrics.ack_refused("internal_error")
            # A bug on our side (the handler, the limiter, a hook): one traceback in the log,
            # a generic answer to the client, who stays connected.
            logger.exception("handler for %s failed (client %s)", event, describe_client(sid))
            return INTERNAL_ERROR

    on_event.__name__ = f"on_{event}"
    return on_event

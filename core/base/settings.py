"""Typed settings for the host: the `server` and `backplane` sections of config.yaml."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Per client address. A single machine with 60 tabs is a normal user, and an office, a school or
# a mobile carrier's NAT puts hundreds of people behind one address; an abuser opens thousands.
# 500 lets the first through and still stops the second, at well under 100 MB of sessions.
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 500


class Settings(BaseModel):
    """Base for every typed config section: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RateLimitSettings(Settings):
    """A token bucket per connection: a refill rate and a burst; sustained abuse disconnects."""

    messages_per_second: float = Field(20.0, gt=0)
    burst: int = Field(60, ge=1)
    # Refused messages in a row after which the connection is closed (0: never close).
    disconnect_after: int = Field(200, ge=0)


class RecoverySettings(Settings):
    """Connection-state recovery: a dropped client comes back with its sid, rooms, session and missed events."""

    enabled: bool = True
    # Seconds a dropped connection's state is kept for it to come back (on any process).
    max_disconnection_duration: float = Field(120.0, gt=0, le=86_400)
    # Whether plugins' connect hooks (auth, ...) run again when a connection is recovered.
    run_connect_hooks: bool = False
    # Events each process keeps for clients coming back to it (the Redis stream serves the others).
    max_kept_events: int = Field(10_000, ge=10, le=1_000_000)
    # Who gets a pid and offsets: "opt-in" (clients connecting with auth {recover: true}) or "all"
    # (as Node does; python-socketio's client would then see the offset as an extra argument).
    clients: Literal["opt-in", "all"] = "opt-in"


class ServerSettings(Settings):
    """The `server` section: where to listen and how the Socket.IO endpoint behaves."""

    host: str = "0.0.0.0"
    port: int = Field(3000, ge=1, le=65535)
    # The URL standalone pages (opened from file://) connect to; None: the scheme, host and
    # port each page was fetched from (as the trusted proxy reports them, if one is configured).
    public_url: str | None = None
    # Origins allowed besides the server's own origin and public_url; "null" is what
    # pages opened from file:// send, "*" allows every origin.
    cors_allowed_origins: list[str] = ["null"]
    # Reverse proxy in front (Sanic's PROXIES_COUNT, FORWARDED_SECRET, REAL_IP_HEADER): without
    # one of them every client behind a proxy has the proxy's address.
    proxies_count: int = Field(0, ge=0, le=10)
    forwarded_secret: str = ""
    real_ip_header: str = ""
    # Pages and server notices: "auto" follows each browser's language (Accept-Language,
    # navigator.language); "en" or "ko" fixes one.
    language: Literal["auto", "en", "ko"] = "auto"
    # One limit for a Socket.IO message on both transports (bytes).
    max_message_size: int = Field(1_000_000, ge=1024)
    # Bytes of one polling body or websocket message, advertised as the handshake's maxPayload
    # (Node's maxHttpBufferSize); None: derived from max_message_size (6x + 1 KiB).
    max_payload: int | None = Field(None, ge=1024)
    # Seconds an Engine.IO session may stay without joining a namespace before it is closed.
    connect_timeout: float = Field(45.0, gt=0)
    max_connections_per_address: int = Field(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, ge=1)
    # Bytes the server may hold for one connection: the message it is sending, messages and
    # packets waiting, unsent bytes (core/transport/budget.py); raised to fit the largest frame.
    connection_budget: int = Field(8 * 1024 * 1024, ge=64 * 1024)
    # Seconds a client may stay over half its budget (not reading what it is sent) before it is
    # cut off; reaching the whole budget cuts it off at once.
    slow_client_timeout: float = Field(5.0, gt=0)
    # Seconds for an HTTP request head (however slowly it trickles in) and for a websocket
    # upgrade's probe.
    handshake_timeout: float = Field(10.0, gt=0)
    # Seconds the websocket close handshake may take before the TCP connection is aborted.
    close_timeout: float = Field(2.0, gt=0)
    # Fragments one websocket message may come in.
    max_fragments: int = Field(1024, ge=1)
    rate_limit: RateLimitSettings = RateLimitSettings()
    ping_interval: float = Field(25.0, gt=0)
    ping_timeout: float = Field(20.0, gt=0)
    transports: list[Literal["polling", "websocket"]] = Field(["polling", "websocket"], min_length=1)
    workers: int = Field(1, ge=1, le=64)
    # Seconds a stopping server gives clients to receive the close before cutting them off.
    shutdown_timeout: float = Field(2.0, gt=0, le=4)
    # Write each broadcast's websocket frame once to every recipient (core/sio/fanout.py);
    # false uses python-socketio's own per-recipient path (kept for comparison and tests).
    fast_fanout: bool = True
    # gzip/deflate of long-polling responses at or above this many bytes (0: never compress).
    # Websocket frames are never compressed: permessage-deflate costs memory and CPU per connection.
    polling_compression_threshold: int = Field(0, ge=0)
    access_log: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "text" (one readable line per record) or "json" (one JSON object per line, for log shippers).
    log_format: Literal["text", "json"] = "text"
    # GET /metrics in the Prometheus text format (prometheus_client).
    metrics: bool = True
    # GET /healthz/ready answers 503 when the backplane is down or its read lag exceeds this (s).
    readiness_max_read_lag: float = Field(5.0, gt=0)
    # The browser client served at /socket.io/socket.io.js (from the npm package).
    client_script: str = "node_modules/socket.io-client/dist/socket.io.min.js"
    connection_state_recovery: RecoverySettings = RecoverySettings()

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} needs a scheme and a host, e.g. http://{value.split('://')[-1]}")
        try:
            parts.port
        except ValueError:
            raise ValueError(f"{value!r}: the port is not a number") from None
        return value.rstrip("/")

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _one_origin(cls, value: Any) -> Any:
        # `cors_allowed_origins: "*"` (or one origin) reads as the list of that one value.
        return [value] if isinstance(value, str) else value

    @property
    def behind_proxy(self) -> bool:
        """Whether a proxy setting tells Sanic where the real client address is."""
        return bool(self.proxies_count or self.forwarded_secret or self.real_ip_header)


# Friendlier wording for the pydantic errors a config file typically hits.
_MESSAGES = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "literal_error": None,  # pydantic's own wording lists the allowed values
}


def format_errors(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        message = _MESSAGES.get(err["type"]) or err["msg"]
        if err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return problems


def validate_section(model: type[BaseModel], raw: Any, prefix: str, problems: list[str]):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{prefix}: expected a mapping")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(format_errors(exc, prefix))
        return None

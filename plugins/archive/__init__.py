"""Archive: every chat message and room entry/leave in PostgreSQL, pages of a room's past, export, retention.

Enabling it needs only a DSN (`dsn:` or DATABASE_URL). Rows are queued by the event
subscribers and written in batches by one background task (writer.py); PostgreSQL being down
or slow never holds up the chat. The schema is created or migrated at start (schema.py).
"""

from __future__ import annotations

import asyncio
import itertools
import urllib.parse
import os
import uuid

import asyncpg
from core.api import (Field, MessageSent, PluginConfig, PluginContext, Request, RoomEntered, RoomLeft,
                      field_validator, json_response)

from . import db, queries, schema
from .writer import Row, Writer

name = "archive"


class Config(PluginConfig):
    """Where the archive lives and how much it keeps, buffers and serves."""

    # postgresql://user:password@host:port/database; empty: the DATABASE_URL environment variable.
    dsn: str = ""
    # Rows kept in memory while PostgreSQL is unreachable or slow; beyond that new rows are
    # dropped, counted and reported once (in the log and in /healthz).
    buffer_size: int = Field(10_000, ge=1)
    batch_size: int = Field(500, ge=1, le=10_000)
    retry_interval: float = Field(1.0, gt=0, le=60)
    connect_timeout: float = Field(2.0, gt=0, le=60)
    command_timeout: float = Field(5.0, gt=0, le=600)
    # Events older than this many days are deleted (checked every retention_interval seconds); 0 keeps all.
    keep_days: int = Field(90, ge=0)
    retention_interval: float = Field(3600.0, gt=0)
    # GET /api/rooms/<roomId>/messages and /api/chat/messages: page size by default and at most.
    page_size: int = Field(50, ge=1)
    max_page_size: int = Field(200, ge=1, le=10_000)
    # What warming the history plugin asks for at most (rooms, and messages per room).
    warm_rooms: int = Field(1000, ge=0)

    @field_validator("dsn")
    @classmethod
    def _dsn_or_env(cls, value: str) -> str:
        value = value or os.environ.get("DATABASE_URL", "")
        if not value:
            raise ValueError("the archive needs a PostgreSQL DSN: set plugins.archive.dsn "
                             "(e.g. postgresql://localhost/chat) or DATABASE_URL")
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"expected a postgresql:// DSN, got {db.safe_dsn(value)!r}")
        return value


def setup(ctx: PluginContext) -> None:
    """Subscribe to the chat's events, serve the message pages, run the writer and retention."""
    cfg: Config = ctx.config
    # Keys of this process's rows: unique across processes and restarts, so a retried batch
    # (or the same batch from a process that did not hear the commit) is inserted once.
    prefix = uuid.uuid4().hex[:16]
    counter = itertools.count(1)
    state: dict = {"ready": asyncio.Event(), "pool": None, "tasks": [], "expired": 0, "schema": None}

    def connect():
        return db.connect(cfg.dsn, cfg.connect_timeout, cfg.command_timeout)

    writer = Writer(connect, capacity=cfg.buffer_size, batch_size=cfg.batch_size,
                    retry_interval=cfg.retry_interval, logger=ctx.logger)

    def row(room: str | None, kind: str, event: str, nickname: str | None, payload,
            message_id: str | None = None) -> None:
        # A message's key is core's message id (the history shows the same id, so a page can
        # continue exactly below what it was shown); other rows get this process's own keys.
        writer.add(Row(message_id or f"{prefix}:{next(counter)}", room or queries.EVERYBODY, kind, event,
                       nickname, payload, Row.now()))

    @ctx.subscribe(MessageSent)
    async def message_sent(event: MessageSent) -> None:
        args = list(event.args)
        if event.socket_event == "groupmsg" and len(args) == 2:
            row(event.room, "message", event.socket_event, event.nickname, args[1], event.message_id)
        elif event.socket_event == "broadcast" and len(args) == 1:
            row(event.room, "message", event.socket_event, event.nickname, args[0], event.message_id)
        else:
            row(event.room, "event", event.socket_event, event.nickname, args)

    @ctx.subscribe(RoomEntered)
    async def room_entered(event: RoomEntered) -> None:
        row(event.room, "entered", "entry", event.nickname, None)

    @ctx.subscribe(RoomLeft)
    async def room_left(event: RoomLeft) -> None:
        row(event.room, "left", "leave", event.nickname, event.reason)

    # Start-up: the schema, then the writer. PostgreSQL being away at start delays both, not the chat.

    async def prepare() -> None:
        while True:
            try:
                conn = await connect()
                try:
                    before, after = await schema.migrate(conn)
                finally:
                    await conn.close()
                break
            except db.ERRORS as exc:
                if state["schema"] is None:
                    state["schema"] = f"waiting: {type(exc).__name__}: {exc}"
                    ctx.logger.warning("archive: PostgreSQL at %s is not reachable (%s); chat goes on, "
                                       "rows are buffered, retrying every %ss", db.safe_dsn(cfg.dsn),
                                       exc, cfg.retry_interval)
                await asyncio.sleep(cfg.retry_interval)
        state["schema"] = after
        writer.connected = True  # until a write fails
        if before != after:
            ctx.logger.info("archive: schema migrated from version %d to %d", before, after)
        state["pool"] = await asyncpg.create_pool(
            cfg.dsn, min_size=0, max_size=4, timeout=cfg.connect_timeout,
            command_timeout=cfg.command_timeout, init=db.init_connection)
        state["ready"].set()
        ctx.logger.info("archive: writing to %s (schema version %d)", db.safe_dsn(cfg.dsn), after)
        state["tasks"].append(asyncio.create_task(writer.run(), name="archive-writer"))
        if cfg.keep_days:
            state["tasks"].append(asyncio.create_task(retention(), name="archive-retention"))

    async def retention() -> None:
        while True:
            try:
                async with state["pool"].acquire() as conn:
                    deleted = await queries.expire(conn, cfg.keep_days)
                state["expired"] += deleted
                if deleted:
                    ctx.logger.info("archive: deleted %d event(s) older than %d days", deleted, cfg.keep_days)
            except db.ERRORS as exc:
                ctx.logger.warning("archive: retention failed (%s); trying again later", exc)
            await asyncio.sleep(cfg.retention_interval)

    @ctx.on_startup
    async def start() -> None:
        state["tasks"].append(asyncio.create_task(prepare(), name="archive-prepare"))

    @ctx.on_shutdown
    async def stop() -> None:
        if state["ready"].is_set() and not await writer.flush(timeout=1.0):
            ctx.logger.warning("archive: stopping with %d row(s) not written", writer.buffered)
        for task in state["tasks"]:
            task.cancel()
        await asyncio.gather(*state["tasks"], return_exceptions=True)
        if state["pool"] is not None:
            state["pool"].terminate()

    # Reading: pages of messages, newest first, by cursor; export as JSON lines.

    async def with_conn(work):
        if not state["ready"].is_set():
            return json_response({"error": "the archive is not connected yet"}, status=503)
        try:
            async with state["pool"].acquire() as conn:
                return await work(conn)
        except db.ERRORS as exc:
            ctx.logger.warning("archive: a read failed: %s: %s", type(exc).__name__, exc)
            return json_response({"error": "the archive is unavailable"}, status=503)

    def page_args(request: Request):
        try:
            limit = int(request.args.get("limit", cfg.page_size))
            before, before_at = (request.args.get(k) for k in ("before", "before_at"))
            before = int(before) if before not in (None, "") else None
            before_at = int(before_at) if before_at not in (None, "") else None
        except ValueError:
            return None, "limit, before and before_at must be integers"
        if limit < 1 or (before is not None and before < 1) or (before_at is not None and before_at < 0):
            return None, "limit and before must be positive"
        before_id = request.args.get("before_id") or None
        return (before, before_id, before_at, min(limit, cfg.max_page_size)), None

    async def serve_page(request: Request, room: str):
        args, error = page_args(request)
        if error:
            return json_response({"error": error}, status=400)
        before, before_id, before_at, limit = args

        async def work(conn):
            body = await queries.page(conn, room, before, limit, before_at, before_id)
            return {"room": room or None, **body}

        return await with_conn(work)

    async def room_messages(request: Request, **params):
        # Sanic hands the segment over still percent-encoded (room ids may hold "/" or spaces).
        room = urllib.parse.unquote(params.get("roomId", ""))
        if not room:
            return json_response({"error": "a room id is a non-empty string"}, status=400)
        return await serve_page(request, room)

    async def chat_messages(request: Request, **params):
        return await serve_page(request, queries.EVERYBODY)

    ctx.add_route(room_messages, "/api/rooms/<roomId:str>/messages")
    ctx.add_route(chat_messages, "/api/chat/messages")

    # Warming: the history plugin asks for the recent messages when it starts on an empty store.

    @ctx.cluster.reply("recent")
    async def recent(payload):
        try:
            await asyncio.wait_for(state["ready"].wait(), timeout=float(payload.get("wait", 5)))
        except asyncio.TimeoutError:
            return None
        rooms = min(int(payload.get("rooms", cfg.warm_rooms)), cfg.warm_rooms)
        per_room = min(int(payload.get("per_room", 50)), cfg.max_page_size)
        max_age = float(payload.get("max_age", 86400))

        async def work(conn):
            return await queries.recent(conn, rooms, per_room, max_age)

        result = await with_conn(work)
        return result if isinstance(result, dict) else None

    @ctx.health
    def health() -> dict:
        figures = writer.health()
        return {"ok": figures["connected"], "schema_version": state["schema"],
                "expired": state["expired"], **figures}

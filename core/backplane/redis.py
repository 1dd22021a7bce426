"""Redis backplane on a Redis Stream: several processes share one chat, and an outage loses nothing.

Why a stream and not pub/sub: a process that was cut off reads on from the last entry it saw,
so nothing published while it reconnected is lost. Messages emitted while Redis is unreachable
wait in a bounded in-process buffer and are appended, in order, once Redis is back. Every
message carries its process id and a sequence number, so a batch re-sent after a failed write is
delivered once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque

import redis.asyncio as aioredis
from pydantic import Field
from redis.exceptions import RedisError
from socketio.async_pubsub_manager import AsyncPubSubManager

from core.sio.fanout import FanoutManager
from core.base.settings import Settings

SINGLE_PROCESS_ONLY = False
BATCH = 500


class Config(Settings):
    """Options of the Redis backplane (REDIS_URL, or REDIS_HOST and REDIS_PORT, set `url`)."""

    url: str = "redis://127.0.0.1:6379/0"
    # Stream key is "<channel>:stream"; processes sharing a chat use the same channel.
    channel: str = "chat"
    # Messages kept while Redis is unreachable; beyond that the oldest are dropped and counted.
    buffer_size: int = Field(10_000, ge=1)
    # Entries Redis keeps for processes catching up (approximate trim).
    stream_maxlen: int = Field(100_000, ge=100)
    # Seconds between attempts to reach Redis again.
    retry_interval: float = Field(0.25, gt=0, le=10)


# FanoutManager after AsyncPubSubManager: local deliveries (ours and other processes') take the fast path.
class StreamManager(AsyncPubSubManager, FanoutManager):
    """python-socketio client manager whose messages travel on a Redis Stream."""

    name = "redis-stream"

    def __init__(self, config: Config, logger: logging.Logger):
        super().__init__(channel=config.channel, logger=logger)
        self.config = config
        self.stream = f"{config.channel}:stream"
        self._log = logger
        self._outbox: deque[tuple[int, str]] = deque()
        self._wakeup = asyncio.Event()
        self._seq = 0
        self._seen: dict[str, int] = {}  # last sequence number delivered, per sending process
        self._dropped = 0
        self._writer_up = True  # until a write fails; the reader tells whether Redis answers
        self._reader_up = False
        self._down_since = time.monotonic()
        self._ever_connected = False
        self._said_unreachable = False
        self._tasks: list[asyncio.Task] = []
        self._redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=1, socket_timeout=2)
        self._reader_redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=1, socket_timeout=5)

    # Lifecycle ------------------------------------------------------------------------------

    def initialize(self):
        super().initialize()  # starts the listening task (_thread -> _listen)
        self._tasks.append(self.server.start_background_task(self._writer))

    async def close(self, flush_timeout: float = 1.0) -> None:
        """Deliver what is buffered if Redis lets us within flush_timeout, then stop."""
        deadline = time.monotonic() + flush_timeout
        while self._outbox and self._writer_up and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in [*self._tasks, getattr(self, "thread", None)]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in [*self._tasks, getattr(self, "thread", None)] if t],
                             return_exceptions=True)
        if self._outbox:
            self._log.warning("stopping with %d message(s) not delivered to other processes", len(self._outbox))
        await self._redis.aclose()
        await self._reader_redis.aclose()

    def health(self) -> dict:
        """Connection state, messages waiting for Redis, and messages dropped since start."""
        return {"connected": self._writer_up and self._reader_up, "buffered": len(self._outbox),
                "dropped": self._dropped}

    # Outgoing -------------------------------------------------------------------------------

    async def _publish(self, data: dict) -> None:
        """Queue a message for the other processes; never waits for Redis."""
        self._seq += 1
        data["seq"] = self._seq
        if len(self._outbox) >= self.config.buffer_size:
            self._outbox.popleft()
            self._dropped += 1
        self._outbox.append((self._seq, json.dumps(data, separators=(",", ":"))))
        self._wakeup.set()

    async def _writer(self) -> None:
        """Append queued messages to the stream in order, retrying while Redis is away."""
        reported_drops = 0
        while True:
            if not self._outbox:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = [self._outbox[i] for i in range(min(BATCH, len(self._outbox)))]
            try:
                if len(batch) == 1:  # the usual case at chat rates: one round trip, no pipeline object
                    await self._redis.xadd(self.stream, {"m": batch[0][1]},
                                           maxlen=self.config.stream_maxlen, approximate=True)
                else:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for _, body in batch:
                            pipe.xadd(self.stream, {"m": body}, maxlen=self.config.stream_maxlen,
                                      approximate=True)
                        await pipe.execute()
            except (RedisError, OSError) as exc:
                self._set_state(writer=False, error=exc)
                await asyncio.sleep(self.config.retry_interval)
                continue
            # Only what was sent leaves the buffer (new messages may have arrived meanwhile,
            # and overflow may have dropped some of the batch's oldest entries).
            last_sent = batch[-1][0]
            while self._outbox and self._outbox[0][0] <= last_sent:
                self._outbox.popleft()
            self._set_state(writer=True)
            if self._dropped != reported_drops:
                self._log.warning("dropped %d message(s) because the buffer of %d was full while "
                                  "Redis was unreachable", self._dropped - reported_drops,
                                  self.config.buffer_size)
                reported_drops = self._dropped

    # Incoming -------------------------------------------------------------------------------

    async def _listen(self):
        """Yield messages from the other processes, resuming after the last entry seen."""
        last_id = None
        while True:
            try:
                if last_id is None:
                    # Start at the current end: history from before this process is not replayed.
                    tail = await self._reader_redis.xrevrange(self.stream, count=1)
                    last_id = tail[0][0] if tail else b"0-0"
                elif not self._reader_up:
                    await self._reader_redis.ping()  # XREAD may block a second; know sooner
                self._set_state(reader=True)
                entries = await self._reader_redis.xread({self.stream: last_id}, count=BATCH, block=1000)
            except (RedisError, OSError) as exc:
                self._set_state(reader=False, error=exc)
                await asyncio.sleep(self.config.retry_interval)
                continue
            for _, items in entries or ():
                for entry_id, fields in items:
                    last_id = entry_id
                    message = self._accept(fields.get(b"m"))
                    if message is not None:
                        yield message

    def _accept(self, raw: bytes | None) -> dict | None:
        """Decode an entry; None for our own, for duplicates and for garbage."""
        try:
            message = json.loads(raw)
            host, seq = message["host_id"], int(message["seq"])
        except (TypeError, ValueError, KeyError):
            self._log.warning("ignored a malformed entry on %s", self.stream)
            return None
        if host == self.host_id or seq <= self._seen.get(host, 0):
            return None
        self._seen[host] = seq
        return message

    # State and its log lines ------------------------------------------------------------------

    def _set_state(self, writer: bool | None = None, reader: bool | None = None,
                   error: Exception | None = None) -> None:
        was_up = self._writer_up and self._reader_up
        if writer is not None:
            self._writer_up = writer
        if reader is not None:
            self._reader_up = reader
        now_up = self._writer_up and self._reader_up
        if now_up and not was_up:
            outage = f" after {time.monotonic() - self._down_since:.1f}s" if self._ever_connected else ""
            self._ever_connected = True
            self._log.info("connected to Redis at %s%s (stream %s); %d buffered message(s) to deliver",
                           self._safe_url(), outage, self.stream, len(self._outbox))
        elif was_up and not now_up:
            self._down_since = time.monotonic()
            self._log.warning("lost Redis at %s (%s); buffering up to %d messages, retrying every %ss",
                              self._safe_url(), error, self.config.buffer_size, self.config.retry_interval)
        elif error is not None and not self._ever_connected and not self._said_unreachable:
            self._said_unreachable = True
            self._log.warning("Redis at %s is not reachable (%s); serving local clients and retrying "
                              "every %ss", self._safe_url(), error, self.config.retry_interval)

    def _safe_url(self) -> str:
        """The Redis URL without its password."""
        kwargs = self._redis.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def create(config: Config, logger: logging.Logger) -> StreamManager:
    """The Redis Stream manager (it connects once the server starts)."""
    return StreamManager(config, logger)

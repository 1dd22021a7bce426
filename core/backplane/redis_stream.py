"""The python-socketio manager whose messages travel on a Redis Stream (see core.backplane.redis)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from typing import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from socketio.async_pubsub_manager import AsyncPubSubManager

from core.backplane import redis_recovery
from core.backplane.base import RelayRefused, relay_outcome
from core.backplane.stream_state import RateLimitedLog, StreamChecks, count_entries, parse_id
from core.sio.fanout import FanoutManager
from core.sio.holds import MESSAGE_ID

BATCH = 500
CHECK_EVERY = 1.0  # seconds between looks at the stream's identity while entries keep coming

# Appends in order; a missing stream or epoch marker means a new stream: mark it with a new
# epoch (this process's token and Redis's time: never the same twice).
ENSURE_EPOCH = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], ARGV[1] .. '-' .. t[1] .. '.' .. t[2])
end
"""
APPEND = ENSURE_EPOCH + """
local id
for i = 2, #ARGV do id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[i]) end
return id
"""


# uvloop raises RuntimeError ("the handler is closed") where asyncio raises an OSError.
CONNECTION_ERRORS = (RedisError, OSError, RuntimeError)


async def drop_broken_connections(client: aioredis.Redis, exc: Exception) -> None:
    """After an error redis-py does not know as a connection error, do not reuse its connections."""
    if not isinstance(exc, RedisError):
        await client.connection_pool.disconnect(inuse_connections=True)


# FanoutManager after AsyncPubSubManager: local deliveries (ours and other processes') take the fast path.
class StreamManager(StreamChecks, AsyncPubSubManager, FanoutManager):
    """python-socketio client manager whose messages travel on a Redis Stream."""

    name = "redis-stream"

    def __init__(self, config, logger: logging.Logger):
        super().__init__(channel=config.channel, logger=logger)
        self.config = config
        self.stream = f"{config.channel}:stream"
        self._read_at: float | None = None  # monotonic time XREAD last answered (or reading began)
        self._entry_lag = 0.0  # age of the newest entry of the last read, when it was read
        self.epoch_key = f"{config.channel}:epoch"
        self._log = logger
        self._outbox: deque[tuple[int, str]] = deque()
        self._acks: deque[tuple[int, asyncio.Future]] = deque()  # honest ack mode: waiting senders
        self._wakeup = asyncio.Event()
        self._seq = 0
        self._seen: dict[str, int] = {}  # last sequence number delivered, per sending process
        self._writer_up = True  # until a write fails; the reader tells whether Redis answers
        self._reader_up = False
        self._down_since = time.monotonic()
        self._ever_connected = False
        self._said_unreachable = False
        self._written_since_down = 0
        self._tasks: list[asyncio.Task] = []
        self.epoch_token = f"{uuid.uuid4().hex}"
        # Reader state: the position (epoch, last id) is what heartbeats record and trims respect.
        self.last_id: bytes | None = None
        self.epoch: str | None = None
        self._entries_added = 0
        self._added_at_position = 0  # entries-added of the stream up to our position
        self._measured = True  # whether _added_at_position is known exactly
        self._born_ms = int(time.time() * 1000)
        self._start_attempts = 0
        self.counts = {"dropped": 0, "refused": 0, "missed": 0, "gaps": 0, "resets": 0,
                       "trimmed_gaps": 0, "trimmed_unread": 0, "duplicates": 0, "malformed": 0}
        self.recent_gaps: deque[dict] = deque(maxlen=20)  # who may lack what (for recovery)
        self._drop_log = RateLimitedLog(logger)
        self._reported_drops = 0
        self.on_cluster_message: Callable[[dict], Awaitable[None]] | None = None
        self.alone: Callable[[], bool] = lambda: False
        timeout = config.stall_timeout
        self._redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=timeout,
                                              socket_timeout=timeout)
        self._reader_redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=timeout,
                                                     socket_timeout=timeout)
        self._append = self._redis.register_script(APPEND)
        # Connection-state recovery (core/sio/recovery.py; the ordering argument for its offsets
        # is in core/backplane/redis_recovery.py): own entries the reader has seen come back,
        # events of restored clients' old processes that they had already, the kept sessions.
        self.own_read = 0
        self._delivering: dict | None = None
        self._skip: dict[str, dict[str, int]] = {}  # origin -> {sid: its seq the client had}
        self.sessions = redis_recovery.StreamSessions(self._redis, config.channel)

    @property
    def redis(self) -> aioredis.Redis:
        """The writer's client (a pool), shared with the heartbeat and the store."""
        return self._redis

    # Lifecycle ------------------------------------------------------------------------------

    def initialize(self):
        super().initialize()  # starts the listening task (_thread -> _listen)
        self._tasks.append(self.server.start_background_task(self._writer))

    async def close(self, flush_timeout: float = 1.0) -> None:
        """Deliver what is buffered if Redis lets us within flush_timeout, then stop."""
        deadline = time.monotonic() + flush_timeout
        while self._outbox and self._writer_up and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        tasks = [t for t in [*self._tasks, getattr(self, "thread", None)] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._outbox:
            self._log.warning("stopping with %d message(s) not delivered to other processes", len(self._outbox))
        self._settle_acks(None, "queued")
        await self._redis.aclose()
        await self._reader_redis.aclose()

    @property
    def connected(self) -> bool:
        return self._writer_up and self._reader_up

    def health(self) -> dict:
        """Connection state, buffer, and every loss, reset and gap counted since start."""
        return {"connected": self.connected, "buffered": len(self._outbox), **self.counts,
                "read_lag_seconds": self.read_lag(),
                "ack": self.config.ack, "epoch": self.epoch,
                "position": self.last_id.decode() if self.last_id else None,
                "recent_gaps": list(self.recent_gaps)}

    # Recovery offsets ---------------------------------------------------------------------

    @property
    def read_id(self) -> str:
        """How far the reader has read ("-": not yet; offsets given before cannot be resumed elsewhere)."""
        return self.last_id.decode() if self.last_id else "-"

    async def _handle_emit(self, message):
        if message.get("host_id") == self.host_id and "seq" not in message:
            if self.config.ack == "relayed" and len(self._outbox) >= self.config.buffer_size:
                self.counts["refused"] += 1  # refused before anyone got it, here included
                raise RelayRefused(f"the server cannot relay messages now: {len(self._outbox)} are "
                                   f"waiting for Redis (the most it keeps)")
            self._seq += 1  # numbered before it is delivered here, so that its offset names it
            message["seq"] = self._seq
        elif self._skip:
            self._skip_for_restored(message)
        self._delivering = message
        await super()._handle_emit(message)

    def next_offset(self) -> tuple[str, str, int]:
        message, self._delivering = self._delivering, None
        if message is None:  # an emit that is not published (ignore_queue)
            return f"{self.read_id}~{self._seq}", self.host_id, 0
        origin = message.get("host_id", "")
        if origin == self.host_id:
            return f"{self.read_id}~{message['seq']}", origin, message["seq"]
        return f"{self.read_id}~{self._seq}", origin, int(message.get("seq", 0))

    def current_offset(self) -> str:
        return f"{self.read_id}~{self._seq}"

    def skip_until(self, sid: str, origin: str, seq: int) -> None:
        self._skip.setdefault(origin, {})[sid] = seq

    def _skip_for_restored(self, message: dict) -> None:
        """Leave out restored clients that had this event from their old process already."""
        origin = message.get("host_id")
        waiting = self._skip.get(origin)
        if not waiting:
            return
        seq = int(message.get("seq", 0))
        had = [sid for sid, upto in waiting.items() if seq <= upto]
        for sid in [sid for sid, upto in waiting.items() if seq >= upto]:
            del waiting[sid]  # that process's later events are new to it
        if not waiting:
            del self._skip[origin]
        if had:
            skip = message.get("skip_sid")
            message["skip_sid"] = [*had, *(skip if isinstance(skip, list) else [skip] if skip else [])]

    async def missed_since(self, host: str, offset: str, limit: int):
        return await redis_recovery.missed_since(self, host, offset, limit)

    # Outgoing -------------------------------------------------------------------------------

    async def _publish(self, data: dict) -> None:
        """Queue a message for the other processes; in the honest ack mode, wait until it is in Redis."""
        honest = self.config.ack == "relayed"
        if len(self._outbox) >= self.config.buffer_size:
            if honest:
                self.counts["refused"] += 1
                raise RelayRefused(f"the server cannot relay messages now: {len(self._outbox)} are "
                                   f"waiting for Redis (the most it keeps)")
            self._outbox.popleft()  # the sequence gap tells the receivers, too
            self.counts["dropped"] += 1
            self._drop_log("dropped a message: %d are waiting for Redis, the most kept (buffer_size); "
                           "%s (%d dropped so far)", self.config.buffer_size,
                           "Redis is unreachable" if not self.connected else "sending faster than Redis takes",
                           self.counts["dropped"])
        if "seq" not in data:  # emits were numbered when delivered here (_handle_emit)
            self._seq += 1
            data["seq"] = self._seq
        data.setdefault("host_id", self.host_id)  # cluster messages do not carry it yet
        mid = MESSAGE_ID.get()
        if mid is not None and data.get("method") == "emit":
            data["mid"] = mid  # the same message id on every process (core/sio/holds.py)
        self._outbox.append((data["seq"], json.dumps(data, separators=(",", ":"))))
        self._wakeup.set()
        if not honest:
            return
        if not self._writer_up or not self._reader_up:
            relay_outcome.set("queued")
            return
        if self.alone():  # delivered locally already, and nobody else to tell
            return
        done = asyncio.get_running_loop().create_future()
        self._acks.append((data["seq"], done))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(done), self.config.stall_timeout * 2)
        except asyncio.TimeoutError:
            outcome = "queued"
        if outcome is not None:
            relay_outcome.set(outcome)

    async def _handle_emit(self, message):
        """Deliver an emit here under its message id (our own emits arrive here without one: they keep theirs)."""
        if "mid" not in message:
            return await super()._handle_emit(message)
        token = MESSAGE_ID.set(message["mid"])
        try:
            return await super()._handle_emit(message)
        finally:
            MESSAGE_ID.reset(token)

    def _settle_acks(self, upto: int | None, outcome: str | None) -> None:
        """Wake honest-mode senders: those up to seq `upto` (all if None) with outcome."""
        while self._acks and (upto is None or self._acks[0][0] <= upto):
            _, future = self._acks.popleft()
            if not future.done():
                future.set_result(outcome)

    async def _writer(self) -> None:
        """Append queued messages to the stream in order, retrying while Redis is away."""
        while True:
            if not self._outbox:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = [self._outbox[i] for i in range(min(BATCH, len(self._outbox)))]
            try:
                await self._append(keys=[self.stream, self.epoch_key],
                                   args=[self.epoch_token, *[body for _, body in batch]])
            except CONNECTION_ERRORS as exc:
                await drop_broken_connections(self._redis, exc)
                self._settle_acks(None, "queued")
                self._set_state(writer=False, error=exc)
                await asyncio.sleep(self.config.retry_interval)
                continue
            except Exception:  # a bug of ours: say so, keep the messages, keep trying
                self._log.exception("appending to %s failed", self.stream)
                await asyncio.sleep(self.config.retry_interval)
                continue
            # Only what was sent leaves the buffer (new messages may have arrived meanwhile,
            # and overflow may have dropped some of the batch's oldest entries).
            last_sent = batch[-1][0]
            while self._outbox and self._outbox[0][0] <= last_sent:
                self._outbox.popleft()
            self._written_since_down += len(batch)
            self._settle_acks(last_sent, None)
            self._set_state(writer=True)
            if self.counts["dropped"] != self._reported_drops:
                self._log.warning("dropped %d message(s) in all because the buffer of %d for Redis "
                                  "was full", self.counts["dropped"], self.config.buffer_size)
                self._reported_drops = self.counts["dropped"]

    # Incoming -------------------------------------------------------------------------------

    async def _listen(self):
        """Yield messages from the other processes, resuming after the last entry seen.

        Caught up, the reader blocks on XREAD. Behind (after an outage, a full batch), idle, or
        once a second, it reads with a snapshot of the stream's identity in one MULTI, so that
        a reset or entries trimmed before it read them are measured exactly, never skipped.
        """
        last_check, snapshot_due = 0.0, True
        self._read_at = time.monotonic()  # a reader that never hears from Redis shows a growing lag
        while True:
            try:
                if self.last_id is None:
                    await self._start_position()
                elif not self._reader_up:
                    await self._reader_redis.ping()  # XREAD may block; know sooner
                    snapshot_due = True
                self._set_state(reader=True)
                resync = None
                if snapshot_due or time.monotonic() - last_check >= CHECK_EVERY:
                    epoch, info, entries = await self._snapshot_read()
                    last_check = time.monotonic()
                    if self._check_stream(epoch, info):
                        continue  # read again from the new stream's start; seen entries are skipped
                    snapshot_due = count_entries(entries) >= BATCH
                    if not snapshot_due and isinstance(info, dict):
                        # Caught up with this snapshot: every entry it counts is read or accounted for.
                        resync = info.get("entries-added", 0) - count_entries(entries)
                    if not entries:
                        entries = await self._blocking_read()
                        snapshot_due = not entries  # quiet: ids may have gone back; look soon
                else:
                    entries = await self._blocking_read()
                    snapshot_due = not entries or count_entries(entries) >= BATCH
            except CONNECTION_ERRORS as exc:
                await drop_broken_connections(self._reader_redis, exc)
                self._set_state(reader=False, error=exc)
                await asyncio.sleep(self.config.retry_interval)
                continue
            if resync is not None:
                self._added_at_position, self._measured = resync, True
            self._note_read(entries)
            for _, items in entries or ():
                for entry_id, fields in items:
                    self.last_id = entry_id
                    self._added_at_position += 1
                    message = self._accept(fields.get(b"m"))
                    if message is None:
                        continue
                    if message.get("method") == "cluster":
                        if self.on_cluster_message is not None:
                            await self.on_cluster_message(message)
                        continue
                    yield message

    def _note_read(self, entries) -> None:
        """When the reader last heard from Redis, and how old the newest entry it got was."""
        now = time.time()
        self._read_at = time.monotonic()
        newest = None
        for _, items in entries or ():
            if items:
                newest = items[-1][0]
        self._entry_lag = max(0.0, now - parse_id(newest)[0] / 1000) if newest else 0.0

    def read_lag(self) -> float:
        """Seconds the reader is behind: the last entry's age when read, or the time since XREAD
        last answered beyond its block time (a stalled or dead reader shows as a growing lag)."""
        if self._read_at is None:
            return 0.0
        silent = time.monotonic() - self._read_at - self.config.block_ms / 1000
        return round(max(self._entry_lag, silent, 0.0), 3)

    async def _blocking_read(self):
        return await self._reader_redis.xread({self.stream: self.last_id}, count=BATCH,
                                              block=self.config.block_ms)

    async def _snapshot_read(self):
        """The epoch marker, XINFO STREAM and the next entries, all of one moment."""
        async with self._reader_redis.pipeline(transaction=True) as pipe:
            pipe.get(self.epoch_key)
            pipe.xinfo_stream(self.stream)
            pipe.xread({self.stream: self.last_id}, count=BATCH)
            epoch, info, entries = await pipe.execute(raise_on_error=False)
        for result in (epoch, entries):
            if isinstance(result, Exception):
                raise result
        return epoch, info, entries

    async def _start_position(self) -> None:
        """Start at the current end: history from before this process is not replayed.

        A process that could not reach Redis when it started reads from its start time instead:
        what others sent since (buffered, then appended) is owed to its clients too.
        """
        self._start_attempts += 1
        async with self._reader_redis.pipeline(transaction=True) as pipe:  # one snapshot
            pipe.get(self.epoch_key)
            pipe.xinfo_stream(self.stream)
            epoch, info = await pipe.execute(raise_on_error=False)
        if isinstance(epoch, Exception):
            raise epoch
        exists = isinstance(info, dict)
        last = info.get("last-entry") if exists else None
        self.last_id = last[0] if last else b"0-0"
        self.epoch = epoch.decode() if epoch else None
        self._entries_added = self._added_at_position = info.get("entries-added", 0) if exists else 0
        if self._start_attempts > 1 and parse_id(self.last_id) > (self._born_ms, 0):
            self.last_id = f"{self._born_ms}-0".encode()
            self._measured = False  # entries after that position: counted at the next caught-up read

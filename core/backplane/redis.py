"""Redis backplane: several processes share one chat, its store and its events; faults are detected, counted, healed.

Parts: redis_stream (the Socket.IO manager on a Redis Stream), heartbeat (liveness,
ProcessDown, trims), cluster_rpc (events and request/reply carried on the same stream),
redis_store (ctx.store on Redis's strings, lists, sets and hashes).

Why a stream and not pub/sub: a process that was cut off reads on from the last entry it saw, so
nothing published while it reconnected is lost. Messages emitted while Redis is unreachable wait
in a bounded in-process buffer and are appended, in order, once Redis is back.

Ordering and delivery, the argument:

- Every process numbers what it sends (chat messages, room changes, cluster events, requests and
  replies alike) with one counter, `seq`, and appends in that order: the buffer is a FIFO, a
  batch is appended by one script (atomic, in order), and a batch leaves the buffer only once
  Redis confirmed it, so a retried batch may be appended twice but never reordered.
- Every reader reads the one stream in id order and delivers an entry from process P only if
  its seq is above the last one delivered from P: duplicates (retries, re-reading after a reset)
  are skipped, and each process sees P's entries in P's order. A jump in P's seq is a gap: it is
  counted as `missed`, logged once with its size, and kept in `recent_gaps` (which process, which
  seqs) so that a recovery can tell what it cannot replay.
- A process's own messages and cluster events are handled in the process when sent (local
  delivery first, then the append), so each process sees each event once, the publisher included.
- The stream's identity is its epoch marker ("<channel>:epoch"), written by whoever creates the
  stream. A reader that finds the stream gone, the epoch changed, the last-generated id or
  entries-added lower than what it read, counts a reset and reads the new stream from its
  first entry (seq dedup drops what it already delivered): writes after a reset are not lost
  even when the new ids are lower than the old ones.
- Nothing is trimmed on append. Once a second, each process trims what every live reader has
  read (positions recorded with the heartbeats, in the current epoch only) and is older than
  `retain_seconds`, then whatever exceeds `stream_maxlen`; entries lost that way show as gaps
  (and as `trimmed_unread`, measured in one MULTI with the read) at the slow reader, never silently.
- A position any process can resume from is (epoch, entry id): entry ids are the same for every
  reader of one epoch, and the epoch tells whether an id still means what it meant.
- Connection-state recovery resumes a client of one process on another from an offset that
  names both a stream position and its old process's own sequence number, because a process
  delivers its own clients' messages before they reach the stream: the argument is written out
  in core/backplane/redis_recovery.py.
- Liveness: each process beats into a sorted set scored by expiry in Redis's own clock. The
  first process to find an expired member removes it and appends one ProcessDown entry in the
  same script, so a death is announced once, in stream order after everything the dead process
  appended before it stopped.
"""

from __future__ import annotations

import logging
from typing import Literal

import redis.asyncio as aioredis
from pydantic import Field, model_validator

from core.backplane.cluster_rpc import ClusterRPC, RPCBackplane
from core.backplane.heartbeat import Heartbeat
from core.backplane.redis_store import RedisStore
from core.backplane.redis_stream import StreamManager
from core.base.settings import Settings

SINGLE_PROCESS_ONLY = False


class Config(Settings):
    """Options of the Redis backplane (REDIS_URL, or REDIS_HOST and REDIS_PORT, set `url`)."""

    url: str = "redis://127.0.0.1:6379/0"
    # Keys are "<channel>:stream", "<channel>:store:...", ...; processes sharing a chat use the same channel.
    channel: str = "chat"
    # Messages kept while Redis is unreachable; beyond that: the oldest dropped (ack "fast") or
    # the new one refused (ack "relayed"), counted either way. At most stream_maxlen.
    buffer_size: int = Field(10_000, ge=1)
    # Hard cap of the stream's length; below it, entries stay until every live process read them.
    stream_maxlen: int = Field(100_000, ge=100)
    # Entries younger than this are kept even when every live process has read them (for
    # readers that resume from a position, e.g. a restarted process); the cap still applies.
    retain_seconds: float = Field(60.0, ge=0)
    # Seconds between attempts to reach Redis again.
    retry_interval: float = Field(0.25, gt=0, le=10)
    # "fast": a message is acked once queued in this process; "relayed": once it is in Redis
    # (or delivered, when no other process is alive); {"queued": true} while Redis is away.
    ack: Literal["fast", "relayed"] = "fast"
    # Seconds without an answer after which Redis counts as stalled (socket timeout).
    stall_timeout: float = Field(0.9, gt=0, le=30)
    # Seconds between heartbeats; a process silent for heartbeat_expiry is declared down.
    heartbeat_interval: float = Field(1.0, gt=0, le=60)
    heartbeat_expiry: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _consistent(self) -> "Config":
        if self.buffer_size > self.stream_maxlen:
            raise ValueError(f"buffer_size ({self.buffer_size}) is larger than stream_maxlen "
                             f"({self.stream_maxlen}): a flushed buffer would trim itself away")
        if self.heartbeat_expiry < 2 * self.heartbeat_interval:
            raise ValueError(f"heartbeat_expiry ({self.heartbeat_expiry}) must be at least twice "
                             f"heartbeat_interval ({self.heartbeat_interval})")
        return self

    @property
    def block_ms(self) -> int:
        """XREAD's BLOCK: well inside the socket timeout, so that a quiet stream is no stall."""
        return max(10, min(250, int(self.stall_timeout * 1000 / 3)))


class RedisBackplane(RPCBackplane):
    """The stream manager, its heartbeat and the cluster layer, on one Redis."""

    kind = "redis"

    def __init__(self, config: Config, logger: logging.Logger):
        self.config = config
        self._manager = StreamManager(config, logger)
        self._id = self._manager.host_id
        self._heartbeat = Heartbeat(config, self._manager, self._id, logger)
        self._manager.alone = self._heartbeat.alone
        self._rpc = ClusterRPC(self._id, self._manager._publish, lambda: self._heartbeat.live, logger)
        self._manager.on_cluster_message = self._rpc.received
        self._store_redis = aioredis.Redis.from_url(config.url, socket_connect_timeout=config.stall_timeout,
                                                    socket_timeout=config.stall_timeout)
        self._log = logger
        self._rpc.serve_room_queries(self._manager)

    def store(self, namespace):
        return RedisStore(self._store_redis, f"{self.config.channel}:store:", namespace)

    async def processes(self):
        return list(self._heartbeat.live)

    async def start(self):
        self._heartbeat.start()

    async def close(self):
        await self._heartbeat.close()
        await self._rpc.close()
        await self._manager.close()
        await self._store_redis.aclose()

    def health(self):
        stream = self._manager.health()
        return {"connected": stream["connected"], "buffered": stream["buffered"],
                "dropped": stream["dropped"], "missed": stream["missed"], "stream": stream,
                "heartbeat": self._heartbeat.health(), "cluster": self._rpc.health()}


def create(config: Config, logger: logging.Logger) -> RedisBackplane:
    """The Redis backplane (it connects once the server starts)."""
    return RedisBackplane(config, logger)

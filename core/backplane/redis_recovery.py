"""Connection-state recovery across processes on the Redis backplane: kept sessions and the stream's replay.

A process delivers its own clients' events at once and appends them to the stream afterwards, so
its clients see an interleaving of its own events and the stream that no other process sees.
The offset it gives its clients (core/sio/recovery.py) therefore names a position in both:
`<X>~<n>` = "every stream entry up to id X not from me, and my own events up to my sequence n".
Why that is enough to resume anywhere:

- A process reads the stream in order and delivers each entry before reading the next, so when
  its read position is X it has delivered every entry <= X (its own it skips: it had them).
- Its own events are numbered in the order it delivered them and appended in that order; own
  event n+1 is delivered after the client's last event, when X had already been read, so it
  lands in the stream after X. Hence what the client misses is exactly: the entries after X,
  less the old process's own events <= n, plus whatever is not in the stream yet.
- The restoring process (here) takes the entries after X up to its own read position L, at a
  moment it has not moved (re-reading until it holds still), and adds its own events after the
  last one its reader has seen come back (they are not in the stream before L). The client then
  has exactly what this process's other clients have, so live traffic continues from there.
  The old process's events <= n that this process has not read yet would arrive twice; they are
  skipped for that client (`skip_until`) until that process's later events come through.
- A position that cannot be checked is refused, never guessed: X must still be in the stream
  (not trimmed; a stream recreated after a Redis restart or a reset has other ids), and the
  session must be in Redis (a Redis restarted empty has none).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from core.sio.recovery import StreamReplay

log = logging.getLogger("chat.recovery")

# Seconds the restoring process waits for its reader to reach the client's position.
CATCH_UP = 2.0


def stream_id(text: str) -> tuple[int, int] | None:
    """'1733050000000-3' as (ms, seq); None for anything else."""
    ms, sep, seq = text.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


class StreamSessions:
    """Kept sessions as Redis keys `<channel>:recovery:<pid>` expiring with the recovery window."""

    def __init__(self, redis, channel: str):
        self._redis = redis
        self._prefix = f"{channel}:recovery:"

    async def save(self, record: dict, ttl: float) -> None:
        await self._redis.set(self._prefix + record["pid"], json.dumps(record, separators=(",", ":")),
                              px=max(1, int(ttl * 1000)))

    async def take(self, pid: str) -> dict | None:
        """The record, removed in the same step (one restore per drop, cluster-wide)."""
        raw = await self._redis.getdel(self._prefix + pid)
        return json.loads(raw) if raw else None


async def missed_since(manager, host: str, offset: str, limit: int) -> StreamReplay | None:
    """The stream entries a client of `host` at offset missed, up to this process's read position."""
    position, _, seq = offset.rpartition("~")
    if not seq.isdigit() or stream_id(position) is None or stream_id(manager.read_id) is None:
        return None
    n = int(seq)
    redis, stream = manager.redis, manager.stream
    try:
        if position == "0-0":  # read from an empty stream: fine only if nothing was trimmed since
            info = await redis.xinfo_stream(stream)
            if info.get("entries-added", -1) != info.get("length"):
                return None
        elif not await redis.xrange(stream, position, position, count=1):
            return None  # trimmed away, or the stream was reset
        deadline = time.monotonic() + CATCH_UP
        while stream_id(manager.read_id) < stream_id(position):  # our reader is behind the client
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.01)
        entries: list = []
        start = position
        for _ in range(20):
            end = manager.read_id
            if stream_id(start) < stream_id(end):
                chunk = await redis.xrange(stream, "(" + start, end, count=limit + 1 - len(entries))
                entries.extend(chunk)
                if len(entries) > limit:
                    return None  # more missed than a replay may hold
                start = end
            if manager.read_id == end:
                break  # the reader held still while we read: the entries end where it is
        else:
            return None
    except Exception as exc:  # Redis away: only this process's own log could help, and it did not
        log.info("cannot replay from the stream for a returning client: %s: %s",
                          type(exc).__name__, exc)
        return None
    messages = []
    for _, fields in entries:
        try:
            message = json.loads(fields.get(b"m") or fields.get("m"))
        except (TypeError, ValueError):
            continue
        if message.get("method") != "emit" or message.get("callback"):
            continue
        if message.get("host_id") == host and int(message.get("seq", 0)) <= n:
            continue  # the old process delivered these itself before the client's last event
        messages.append(message)
    skip = (host, n) if host != manager.host_id and n else None
    return StreamReplay(messages, manager.own_read, skip)

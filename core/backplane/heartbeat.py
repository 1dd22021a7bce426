"""Process liveness in Redis: heartbeats with expiry, ProcessDown once per dead process, trims by the slowest reader.

Keys: "<channel>:processes" (sorted set: process id -> expiry in Redis's own clock, ms) and
"<channel>:positions" (hash: process id -> "<epoch>|<last entry id read>"). Every process beats
every `heartbeat_interval`; the first process that finds an expired member removes it and, in
the same script, appends one ProcessDown entry to the stream: removal and announcement are
atomic, so each death is announced exactly once, on the stream every process reads in order.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis

from core.backplane.redis_stream import CONNECTION_ERRORS, StreamManager, drop_broken_connections

PROCESS_DOWN = "chat.process.down"  # the wire name of core.api's ProcessDown event (field process_id)

NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# KEYS: processes, positions, down; ARGV: id, expiry ms, position.
# Returns {live ids, how many times this process was declared down} (a count, not a flag that a
# beat would clear: a beat delayed in a stalled connection may still run after its reply was lost).
BEAT = NOW + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return {redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE'), tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or 0)}
"""
# KEYS: processes, positions, stream, epoch, down; ARGV: epoch token, event name.
# Returns the ids declared down (also kept an hour in "down", so that one that was only cut off learns it).
REAP_SCRIPT = NOW + """
local dead = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. now, 'BYSCORE')
if #dead == 0 then return dead end
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], ARGV[1] .. '-' .. t[1] .. '.' .. t[2])
end
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HINCRBY', KEYS[5], id, 1)
  redis.call('EXPIRE', KEYS[5], 3600)
  local body = cjson.encode({method = 'cluster', kind = 'event', name = ARGV[2],
                             fields = {process_id = id}, host_id = 'down:' .. id, seq = 1})
  redis.call('XADD', KEYS[3], '*', 'm', body)
end
return dead
"""
# KEYS: processes, positions, stream, epoch; ARGV: hard cap, retention ms. Trim what every live
# reader has read and is older than the retention, then whatever exceeds the cap. Returns {entries trimmed for readers, entries trimmed by the cap}.
TRIM = NOW + """
local live = redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE')
local epoch = redis.call('GET', KEYS[4])
local min_ms, min_seq = nil, nil
local usable = epoch and #live > 0
if usable then
  for _, id in ipairs(live) do
    local pos = redis.call('HGET', KEYS[2], id)
    local sep = pos and string.find(pos, '|', 1, true)
    if not sep or string.sub(pos, 1, sep - 1) ~= epoch then usable = false; break end
    local ms, seq = string.match(string.sub(pos, sep + 1), '^(%d+)-(%d+)$')
    ms, seq = tonumber(ms), tonumber(seq)
    if not ms then usable = false; break end
    if not min_ms or ms < min_ms or (ms == min_ms and seq < min_seq) then min_ms, min_seq = ms, seq end
  end
end
local retain = tonumber(ARGV[2])
if usable and retain > 0 and now - retain < min_ms then min_ms, min_seq = now - retain, 0 end
local by_readers = 0
if usable then
  by_readers = redis.call('XTRIM', KEYS[3], 'MINID', '~', string.format('%d-%d', min_ms, min_seq))
end
local by_cap = 0
if redis.call('XLEN', KEYS[3]) > tonumber(ARGV[1]) then
  by_cap = redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[1])
end
return {by_readers, by_cap}
"""


class Heartbeat:
    """Beats for this process, knows the live ones, announces the dead ones, trims the stream."""

    def __init__(self, config, manager: StreamManager, process_id: str, logger: logging.Logger):
        self.config = config
        self.process_id = process_id
        self.rtt = 0.0  # seconds the last heartbeat's round trip took
        self._manager = manager
        self._log = logger
        self._redis: aioredis.Redis = manager.redis
        channel = config.channel
        self._keys = [f"{channel}:processes", f"{channel}:positions", manager.stream, manager.epoch_key,
                      f"{channel}:down"]
        self._beat = self._redis.register_script(BEAT)
        self._reap = self._redis.register_script(REAP_SCRIPT)
        self._trim = self._redis.register_script(TRIM)
        self.live: list[str] = [process_id]
        self.up = False
        self._up_since: float | None = None
        self._last_beat: float | None = None
        self._task: asyncio.Task | None = None
        self.counts = {"beats": 0, "failed_beats": 0, "declared_down": 0, "rejoined": 0,
                       "trimmed_for_readers": 0, "trimmed_by_cap": 0}

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:  # leaving on purpose: the others need not wait for the expiry
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._keys[0], self.process_id)
                pipe.hdel(self._keys[1], self.process_id)
                await pipe.execute()
        except CONNECTION_ERRORS:
            pass

    def alone(self) -> bool:
        return self.live == [self.process_id]

    def position(self) -> str:
        last = self._manager.last_id
        return f"{self._manager.epoch or ''}|{last.decode() if last else '0-0'}"

    async def _run(self) -> None:
        interval = self.config.heartbeat_interval
        # Expiry as a score, less one interval: a silent process is found by the next tick of
        # someone else's loop, so it is declared down at most heartbeat_expiry after its last beat.
        expiry_ms = round((self.config.heartbeat_expiry - interval) * 1000)
        while True:
            started = time.monotonic()
            try:
                await self._tick(expiry_ms)
            except CONNECTION_ERRORS as exc:
                await drop_broken_connections(self._redis, exc)
                self.counts["failed_beats"] += 1
                if self.up:
                    self._log.warning("heartbeat failed (%s); the others declare this process down "
                                      "after %ss without one", exc, self.config.heartbeat_expiry)
                self.up, self._up_since = False, None
            except Exception:
                self._log.exception("heartbeat failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _tick(self, expiry_ms: int) -> None:
        sent = time.monotonic()
        live, times_down = await self._beat(keys=[*self._keys[:2], self._keys[4]],
                                            args=[self.process_id, expiry_ms, self.position()])
        now = time.monotonic()
        self.rtt = now - sent  # one EVALSHA: the Redis round-trip time readiness and metrics show
        if times_down > self.counts["rejoined"]:
            self.counts["rejoined"] = times_down
            self._log.error("the cluster declared this process down (no heartbeat for %ss): the others "
                            "were told to release its clients, who are still connected here",
                            self.config.heartbeat_expiry)
        self.counts["beats"] += 1
        self._last_beat = now
        self.live = sorted({member.decode() for member in live} | {self.process_id})
        if not self.up:
            self.up, self._up_since = True, now
        # After an outage the others had no way to beat: give them one expiry before judging.
        if now - self._up_since >= self.config.heartbeat_expiry:
            dead = await self._reap(keys=self._keys, args=[self._manager.epoch_token, PROCESS_DOWN])
            for member in dead:
                self.counts["declared_down"] += 1
                self._log.warning("process %s stopped heartbeating for %ss: announced it down",
                                  member.decode(), self.config.heartbeat_expiry)
            if dead:
                self.live = [p for p in self.live if p.encode() not in dead]
        # Entries also stay for clients coming back within connection-state recovery's window
        # (core/backplane/redis_recovery.py): their offsets name a position in the stream.
        window = getattr(getattr(self._manager, "recovery", None), "window", 0)
        retain_ms = round(max(self.config.retain_seconds, window) * 1000)
        by_readers, by_cap = await self._trim(keys=self._keys[:4], args=[self.config.stream_maxlen, retain_ms])
        self.counts["trimmed_for_readers"] += by_readers
        self.counts["trimmed_by_cap"] += by_cap

    def health(self) -> dict:
        age = None if self._last_beat is None else round(time.monotonic() - self._last_beat, 3)
        return {"ok": self.up, "process": self.process_id, "processes": list(self.live),
                "interval": self.config.heartbeat_interval, "expiry": self.config.heartbeat_expiry,
                "last_beat_age": age, "rtt_seconds": round(self.rtt, 6), **self.counts}

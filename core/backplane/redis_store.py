"""The store in Redis: strings, lists, sets and hashes under "<channel>:store:<plugin>:<key>"."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from core.backplane.base import Store, StoreUnavailable, WrongType, check_key, check_ttl, decode, encode
from core.backplane.memory_store import _members
from core.backplane.redis_stream import CONNECTION_ERRORS, drop_broken_connections


# One script, so that a push onto a key of another kind changes nothing (MULTI would still
# run the PEXPIRE after the failed RPUSH).
_LIST_PUSH = """
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return n
"""


class RedisStore(Store):
    """One namespace of the shared store; every call is one round trip."""

    def __init__(self, client: aioredis.Redis, prefix: str, namespace: str):
        self._r = client
        self._prefix = f"{prefix}{namespace}:"
        self._list_push = client.register_script(_LIST_PUSH)

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def _run(self, command: str, *args: Any) -> Any:
        try:
            return await self._r.execute_command(command, *args)
        except ResponseError as exc:
            raise _translated(exc) from None
        except CONNECTION_ERRORS as exc:
            await drop_broken_connections(self._r, exc)
            raise StoreUnavailable(f"the store (Redis) is unreachable: {exc}") from None


    async def get(self, key):
        return decode(await self._run("GET", self._key(key)))

    async def set(self, key, value, ttl=None):
        ttl_ms, raw = check_ttl(ttl), encode(value)
        extra = ("PX", ttl_ms) if ttl_ms is not None else ()
        await self._run("SET", self._key(key), raw, *extra)

    async def delete(self, key):
        return bool(await self._run("DEL", self._key(key)))

    async def expire(self, key, ttl):
        return bool(await self._run("PEXPIRE", self._key(key), check_ttl(ttl)))

    async def list_push(self, key, value, cap, ttl=None):
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"cap must be a positive whole number, not {cap!r}")
        ttl_ms, raw, k = check_ttl(ttl), encode(value), self._key(key)
        try:
            length = await self._list_push(keys=[k], args=[raw, cap, "" if ttl_ms is None else ttl_ms])
        except ResponseError as exc:
            raise _translated(exc) from None
        except CONNECTION_ERRORS as exc:
            await drop_broken_connections(self._r, exc)
            raise StoreUnavailable(f"the store (Redis) is unreachable: {exc}") from None
        return min(length, cap)

    async def list_range(self, key, start=0, stop=-1):
        return [decode(raw) for raw in await self._run("LRANGE", self._key(key), start, stop)]

    async def list_len(self, key):
        return await self._run("LLEN", self._key(key))

    async def set_add(self, key, *members):
        return await self._run("SADD", self._key(key), *_members(members))

    async def set_remove(self, key, *members):
        return await self._run("SREM", self._key(key), *_members(members))

    async def set_members(self, key):
        return [decode(raw) for raw in sorted(await self._run("SMEMBERS", self._key(key)))]

    async def set_card(self, key):
        return await self._run("SCARD", self._key(key))

    async def hash_set(self, key, field, value):
        raw = encode(value)
        return bool(await self._run("HSET", self._key(key), check_key(field), raw))

    async def hash_get(self, key, field):
        return decode(await self._run("HGET", self._key(key), check_key(field)))

    async def hash_delete(self, key, *fields):
        if not fields:
            raise ValueError("hash_delete needs at least one field")
        return await self._run("HDEL", self._key(key), *[check_key(f) for f in fields])

    async def hash_get_all(self, key):
        raw = await self._run("HGETALL", self._key(key))
        return {field.decode(): decode(value) for field, value in raw.items()}


def _translated(exc: ResponseError) -> Exception:
    if "WRONGTYPE" in str(exc):
        return WrongType(str(exc))
    return exc

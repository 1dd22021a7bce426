"""The store in this process: what Redis would do with the same calls (tests run both side by side)."""

from __future__ import annotations

import heapq
import time
from typing import Any

from core.backplane.base import Store, WrongType, check_key, check_ttl, decode, encode

STRING, LIST, SET, HASH = "string", "list", "set", "hash"


class MemoryData:
    """Keys of every namespace: kind and value, deadlines; expired keys go on the next write."""

    def __init__(self):
        self.values: dict[str, tuple[str, Any]] = {}
        self.deadlines: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def now(self) -> float:
        return time.monotonic()

    def lookup(self, key: str, kind: str) -> Any:
        """The value of key if it is alive and of kind; None if absent; WrongType otherwise."""
        deadline = self.deadlines.get(key)
        if deadline is not None and deadline <= self.now():
            self.remove(key)
        item = self.values.get(key)
        if item is None:
            return None
        if item[0] != kind:
            raise WrongType(f"WRONGTYPE the key holds a {item[0]}, not a {kind}")
        return item[1]

    def put(self, key: str, kind: str, value: Any) -> None:
        self.values[key] = (kind, value)

    def remove(self, key: str) -> bool:
        self.deadlines.pop(key, None)
        return self.values.pop(key, None) is not None

    def set_deadline(self, key: str, ttl_ms: int) -> None:
        deadline = self.now() + ttl_ms / 1000
        self.deadlines[key] = deadline
        heapq.heappush(self._heap, (deadline, key))

    def sweep(self) -> None:
        """Forget expired keys (a key's deadline may have moved: only the current one counts)."""
        now = self.now()
        while self._heap and self._heap[0][0] <= now:
            deadline, key = heapq.heappop(self._heap)
            if self.deadlines.get(key) == deadline:
                self.remove(key)
        if len(self._heap) > 2 * len(self.deadlines) + 64:  # entries of moved deadlines pile up
            self._heap = [(d, k) for k, d in self.deadlines.items()]
            heapq.heapify(self._heap)


class MemoryStore(Store):
    """One namespace of a MemoryData."""

    def __init__(self, data: MemoryData, namespace: str):
        self._data = data
        self._prefix = f"{namespace}:"

    def _key(self, key: str) -> str:
        self._data.sweep()
        return self._prefix + check_key(key)

    async def get(self, key):
        return decode(self._data.lookup(self._key(key), STRING))

    async def set(self, key, value, ttl=None):
        ttl_ms, raw, k = check_ttl(ttl), encode(value), self._key(key)
        self._data.remove(k)
        self._data.put(k, STRING, raw)
        if ttl_ms is not None:
            self._data.set_deadline(k, ttl_ms)

    async def delete(self, key):
        k = self._key(key)
        alive = self._alive(k)
        return self._data.remove(k) and alive

    def _alive(self, k: str) -> bool:
        deadline = self._data.deadlines.get(k)
        return k in self._data.values and (deadline is None or deadline > self._data.now())

    async def expire(self, key, ttl):
        ttl_ms, k = check_ttl(ttl), self._key(key)
        if not self._alive(k):
            self._data.remove(k)
            return False
        self._data.set_deadline(k, ttl_ms)
        return True

    # Lists ----------------------------------------------------------------------------------

    async def list_push(self, key, value, cap, ttl=None):
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"cap must be a positive whole number, not {cap!r}")
        ttl_ms, raw, k = check_ttl(ttl), encode(value), self._key(key)
        items = self._data.lookup(k, LIST)
        if items is None:
            items = []
            self._data.put(k, LIST, items)
        items.append(raw)
        del items[:-cap]
        if ttl_ms is not None:
            self._data.set_deadline(k, ttl_ms)
        return len(items)

    async def list_range(self, key, start=0, stop=-1):
        items = self._data.lookup(self._key(key), LIST) or []
        n = len(items)
        start = max(start + n, 0) if start < 0 else start
        stop = stop + n if stop < 0 else min(stop, n - 1)
        return [decode(raw) for raw in items[start:stop + 1]] if start <= stop else []

    async def list_len(self, key):
        return len(self._data.lookup(self._key(key), LIST) or ())

    # Sets -----------------------------------------------------------------------------------

    async def set_add(self, key, *members):
        raws, k = _members(members), self._key(key)
        current = self._data.lookup(k, SET)
        if current is None:
            current = set()
            self._data.put(k, SET, current)
        before = len(current)
        current.update(raws)
        return len(current) - before

    async def set_remove(self, key, *members):
        raws, k = _members(members), self._key(key)
        current = self._data.lookup(k, SET)
        if current is None:
            return 0
        before = len(current)
        current.difference_update(raws)
        if not current:
            self._data.remove(k)
        return before - len(current)

    async def set_members(self, key):
        return [decode(raw) for raw in sorted(self._data.lookup(self._key(key), SET) or ())]

    async def set_card(self, key):
        return len(self._data.lookup(self._key(key), SET) or ())

    # Hashes ---------------------------------------------------------------------------------

    async def hash_set(self, key, field, value):
        raw, k = encode(value), self._key(key)
        current = self._data.lookup(k, HASH)
        if current is None:
            current = {}
            self._data.put(k, HASH, current)
        new = check_key(field) not in current
        current[field] = raw
        return new

    async def hash_get(self, key, field):
        return decode((self._data.lookup(self._key(key), HASH) or {}).get(check_key(field)))

    async def hash_delete(self, key, *fields):
        if not fields:
            raise ValueError("hash_delete needs at least one field")
        k = self._key(key)
        current = self._data.lookup(k, HASH)
        if current is None:
            return 0
        removed = sum(current.pop(check_key(f), None) is not None for f in set(fields))
        if not current:
            self._data.remove(k)
        return removed

    async def hash_get_all(self, key):
        current = self._data.lookup(self._key(key), HASH) or {}
        return {field: decode(raw) for field, raw in current.items()}


def _members(members: tuple) -> set[str]:
    if not members:
        raise ValueError("give at least one member")
    return {encode(m) for m in members}

"""ctx.store: the memory and the Redis implementation answer every call the same way."""

import asyncio

import pytest
import redis.asyncio as aioredis

from core.backplane.base import StoreUnavailable, WrongType
from core.backplane.memory_store import MemoryData, MemoryStore
from core.backplane.redis_store import RedisStore

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def redis_for_store():
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def stores(request, redis_for_store):
    """Two namespaces ("p1", "p2") of one store of each kind."""
    if request.param == "memory":
        data = MemoryData()
        yield MemoryStore(data, "p1"), MemoryStore(data, "p2")
        return
    client = aioredis.Redis.from_url(redis_for_store.url, socket_timeout=2)
    await client.flushall()
    yield RedisStore(client, "chat:store:", "p1"), RedisStore(client, "chat:store:", "p2")
    await client.aclose()


async def test_keys_values_and_namespaces(stores):
    s, other = stores
    assert await s.get("k") is None
    await s.set("k", {"a": [1, 2.5, None, True, "é"]})
    assert await s.get("k") == {"a": [1, 2.5, None, True, "é"]}
    assert await other.get("k") is None  # another plugin's key of the same name
    await other.set("k", "theirs")
    assert await s.get("k") == {"a": [1, 2.5, None, True, "é"]}
    assert await s.delete("k") is True
    assert await s.delete("k") is False
    assert await other.get("k") == "theirs"


async def test_ttls_expire(stores):
    s, _ = stores
    await s.set("short", 1, ttl=0.15)
    await s.set("long", 2, ttl=30)
    await s.set("forever", 3)
    await s.list_push("l", "x", cap=5, ttl=0.15)
    await s.set_add("members", "a")
    assert await s.expire("members", 0.15) is True
    await s.hash_set("h", "f", 1)
    assert await s.expire("h", 0.15) is True
    assert await s.expire("missing", 1) is False
    assert await s.get("short") == 1
    await asyncio.sleep(0.3)
    assert await s.get("short") is None
    assert await s.list_range("l") == [] and await s.list_len("l") == 0
    assert await s.set_members("members") == [] and await s.set_card("members") == 0
    assert await s.hash_get_all("h") == {}
    assert await s.get("long") == 2 and await s.get("forever") == 3
    await s.set("long", 4)  # a plain set drops the TTL, as SET does
    assert await s.expire("short", 1) is False  # expired keys are gone for expire too
    assert await s.delete("short") is False


async def test_set_replaces_any_kind(stores):
    s, _ = stores
    await s.list_push("k", 1, cap=3)
    await s.set("k", "now a value", ttl=0.1)
    assert await s.get("k") == "now a value"
    await asyncio.sleep(0.2)
    assert await s.get("k") is None


async def test_capped_lists(stores):
    s, _ = stores
    for n in range(7):
        length = await s.list_push("log", {"n": n}, cap=5)
    assert length == 5
    assert await s.list_len("log") == 5
    assert await s.list_range("log") == [{"n": n} for n in range(2, 7)]
    assert await s.list_range("log", -2) == [{"n": 5}, {"n": 6}]
    assert await s.list_range("log", 1, 2) == [{"n": 3}, {"n": 4}]
    assert await s.list_range("log", 3, 100) == [{"n": 5}, {"n": 6}]
    assert await s.list_range("log", -100, 0) == [{"n": 2}]
    assert await s.list_range("log", 4, 2) == []
    assert await s.list_range("log", 10, 20) == []
    assert await s.list_range("nothing") == []


async def test_list_ttl_is_renewed_by_each_push_with_ttl(stores):
    s, _ = stores
    await s.list_push("l", 1, cap=3, ttl=1.0)
    await asyncio.sleep(0.6)
    await s.list_push("l", 2, cap=3, ttl=1.0)  # expires 1.0 s from now, not 0.4 s
    await asyncio.sleep(0.6)
    assert await s.list_range("l") == [1, 2]
    await s.list_push("l", 3, cap=3)  # without ttl: the current one stays
    await asyncio.sleep(0.8)
    assert await s.list_len("l") == 0


async def test_sets(stores):
    s, _ = stores
    assert await s.set_add("room", "bob", "ann", {"id": 1}) == 3
    assert await s.set_add("room", "ann", "cat") == 1
    assert await s.set_card("room") == 4
    assert await s.set_members("room") == ["ann", "bob", "cat", {"id": 1}]  # by JSON text
    assert await s.set_remove("room", "ann", "zed") == 1
    assert await s.set_remove("room", {"id": 1}) == 1  # dict members compare by value
    assert await s.set_remove("room", "bob", "cat") == 2
    assert await s.set_card("room") == 0
    assert await s.set_remove("room", "bob") == 0
    with pytest.raises(ValueError):
        await s.set_add("room")


async def test_hashes(stores):
    s, _ = stores
    assert await s.hash_set("who", "sid1", {"nick": "ann"}) is True
    assert await s.hash_set("who", "sid1", {"nick": "ann2"}) is False
    assert await s.hash_set("who", "sid2", "bob") is True
    assert await s.hash_get("who", "sid1") == {"nick": "ann2"}
    assert await s.hash_get("who", "nobody") is None
    assert await s.hash_get_all("who") == {"sid1": {"nick": "ann2"}, "sid2": "bob"}
    assert await s.hash_delete("who", "sid1", "nobody") == 1
    assert await s.hash_delete("who", "sid2") == 1
    assert await s.hash_get_all("who") == {}
    assert await s.expire("who", 1) is False  # an emptied hash is gone


async def test_wrong_kind_and_bad_input_are_refused_alike(stores):
    s, _ = stores
    await s.set("v", 1)
    await s.list_push("l", 1, cap=2)
    with pytest.raises(WrongType):
        await s.list_push("v", 2, cap=2, ttl=0.1)
    with pytest.raises(WrongType):
        await s.get("l")
    with pytest.raises(WrongType):
        await s.hash_get("l", "f")
    with pytest.raises(WrongType):
        await s.set_add("v", 1)
    with pytest.raises(TypeError):
        await s.set("x", object())
    with pytest.raises(ValueError):
        await s.set("x", float("nan"))
    with pytest.raises(ValueError):
        await s.set("x", 1, ttl=0)
    with pytest.raises(ValueError):
        await s.list_push("l", 1, cap=0)
    with pytest.raises(ValueError):
        await s.get("")
    await asyncio.sleep(0.2)
    assert await s.get("v") == 1 and await s.list_range("l") == [1]  # nothing changed, no TTL set


async def test_redis_store_down_raises_store_unavailable():
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    client = aioredis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    store = RedisStore(client, "chat:store:", "p")
    await store.set("k", 1)
    server.stop()
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    await client.aclose()

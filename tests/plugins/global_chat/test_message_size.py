"""global_chat refuses a message over server.max_message_size (2048 here) that the transport let through."""

import pytest

from tests.plugins.wire import OK, SMALL_MESSAGE_SIZE, ServerLog, refused

LIMIT = SMALL_MESSAGE_SIZE
# JSON-encoded sizes: a string of n ASCII characters encodes to n + 2 bytes (the quotes).
AT_LIMIT = "x" * (LIMIT - 2)
OVER_LIMIT = "x" * (LIMIT - 1)


def too_large(prefix: str, size: int) -> str:
    return f"{prefix} is too large ({size} bytes, at most {LIMIT})"


async def test_broadcast_of_exactly_max_message_size_is_relayed(small_server, connect):
    alice = await connect(small_server.url)
    assert await alice.call("broadcast", AT_LIMIT) == OK
    assert await alice.expect("receiveAll") == [AT_LIMIT]


async def test_broadcast_one_byte_over_max_message_size_is_refused(small_server, connect, clients):
    alice = await connect(small_server.url)
    bystander = await clients.python(small_server.url)
    log = ServerLog(small_server)

    reason = too_large("broadcast: msg", LIMIT + 1)
    assert await alice.call("broadcast", OVER_LIMIT) == refused(reason)

    assert await alice.call("broadcast", "after") == OK
    assert await bystander.expect("receiveAll") == ["after"]
    assert bystander.inbox.all("receiveAll") == [["after"]]
    log.assert_refused("broadcast", reason)


async def test_non_ascii_message_within_the_limit_is_relayed(small_server, connect):
    alice = await connect(small_server.url)
    fits = "é" * ((LIMIT - 2) // 2)  # 1023 characters: 2046 bytes of UTF-8, 2048 with the quotes
    assert await alice.call("broadcast", fits) == OK
    assert await alice.expect("receiveAll") == [fits]


async def test_size_is_counted_in_utf8_bytes_not_characters(small_server, connect):
    alice = await connect(small_server.url)
    too_big = "é" * 1100  # 1100 characters, 2200 bytes, 2202 with the quotes
    assert await alice.call("broadcast", too_big) == refused(too_large("broadcast: msg", 2202))


async def test_size_of_an_object_is_its_compact_json(small_server, clients):
    alice = await clients.python(small_server.url)
    obj = {"k": "x" * (LIMIT - 8)}  # {"k":"..."} is exactly LIMIT bytes
    assert await alice.call("test2", obj) == OK
    assert await alice.expect("receive2") == [obj]
    bigger = {"k": "x" * (LIMIT - 7)}
    assert await alice.call("test2", bigger) == refused(too_large("test2: obj", LIMIT + 1))


@pytest.mark.parametrize("args, reason", [
    ((OVER_LIMIT, "b"), too_large("test1: a", LIMIT + 1)),
    (("a", OVER_LIMIT), too_large("test1: b", LIMIT + 1)),
], ids=["a", "b"])
async def test_test1_refuses_an_oversized_argument(small_server, clients, args, reason):
    alice = await clients.python(small_server.url)
    log = ServerLog(small_server)
    assert await alice.call("test1", *args) == refused(reason)
    assert await alice.call("broadcast", "after") == OK
    assert await alice.expect("receiveAll") == ["after"]
    assert alice.inbox.all("receive1") == []
    log.assert_refused("test1", reason)


async def test_test2_refuses_an_oversized_object(small_server, clients):
    alice = await clients.python(small_server.url)
    log = ServerLog(small_server)
    reason = too_large("test2: obj", LIMIT + 7)
    assert await alice.call("test2", {"k": OVER_LIMIT}) == refused(reason)
    log.assert_refused("test2", reason)

"""group_chat lets a connection be in at most max_rooms_per_connection rooms (default 10)."""

from tests.plugins.wire import OK, ServerLog, new_room, refused, settle


def over_limit(n):
    return refused(f"entry: you are already in {n} rooms, the most allowed")


async def test_default_limit_is_ten_rooms(server, clients):
    alice = await clients.python(server.url)
    for _ in range(10):
        assert await alice.call("entry", new_room(), "alice") == OK
    assert await alice.call("entry", new_room(), "alice") == over_limit(10)


async def test_entry_beyond_the_configured_limit_is_refused(start_server, clients):
    server = start_server(overrides={"plugins": {"group_chat": {"max_rooms_per_connection": 2}}})
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    assert await bob.call("entry", "c", "bob") == OK
    assert await alice.call("entry", "a", "alice") == OK
    assert await alice.call("entry", "b", "alice") == OK
    log = ServerLog(server)

    assert await alice.call("entry", "c", "alice") == over_limit(2)

    log.assert_refused("entry", "entry: you are already in 2 rooms, the most allowed")
    assert await alice.call("groupmsg", "c", "hi") == refused(
        "groupmsg: you are not in room 'c'; send entry first")
    await settle(alice, bob)
    assert bob.inbox.all("entryok") == [["You entered room c as bob"]]
    assert bob.inbox.all("receiveGroupMsg") == []


async def test_reentry_and_rename_at_the_limit_are_allowed(start_server, clients):
    server = start_server(overrides={"plugins": {"group_chat": {"max_rooms_per_connection": 2}}})
    alice = await clients.python(server.url)
    assert await alice.call("entry", "a", "alice") == OK
    assert await alice.call("entry", "b", "alice") == OK
    assert await alice.call("entry", "a", "alice") == OK
    assert await alice.call("entry", "b", "alicia") == OK
    assert await alice.call("groupmsg", "b", "still in b") == OK
    assert await alice.expect("receiveGroupMsg") == ["b", "still in b"]


async def test_limit_is_per_connection(start_server, clients):
    server = start_server(overrides={"plugins": {"group_chat": {"max_rooms_per_connection": 1}}})
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    assert await alice.call("entry", "a", "alice") == OK
    assert await bob.call("entry", "b", "bob") == OK
    assert await alice.call("entry", "b", "alice") == over_limit(1)

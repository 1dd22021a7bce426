"""ctx.emit / enter_room / leave_room / rooms / disconnect: public room names shared by every plugin."""

from tests.plugins.wire import OK, new_room


async def test_a_plugin_reaches_a_group_chat_room_by_its_public_name(probe_server, clients):
    room = new_room()
    alice = await clients.js(probe_server.url)
    bob = await clients.python(probe_server.url)
    outsider = await clients.python(probe_server.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("entry", room, "bob") == OK
    # bob asks api_probe (which knows nothing of group_chat) to emit to room=<room>
    assert await bob.call("probe_room_emit", room, "typing", {"nick": "bob"}) == OK
    assert await alice.expect("probe_room_event") == ["typing", {"nick": "bob"}]
    assert await bob.expect("probe_room_event") == ["typing", {"nick": "bob"}]
    await outsider.assert_none("probe_room_event", within=0.3)


async def test_a_room_named_like_a_sid_does_not_reach_that_client(probe_server, clients):
    alice = await clients.python(probe_server.url)
    mallory = await clients.python(probe_server.url)
    victim_sid = alice.sio.get_sid()
    assert await mallory.call("probe_room_emit", victim_sid, "gotcha") == OK
    assert await mallory.call("entry", victim_sid, "mallory") == OK
    assert await mallory.call("groupmsg", victim_sid, "gotcha too") == OK
    await alice.assert_none("probe_room_event", within=0.3)
    await alice.assert_none("receiveGroupMsg", within=0.1)
    # to= is how a plugin addresses one client
    assert await mallory.call("probe_to", victim_sid, "direct") == OK
    assert await alice.expect("probe_direct") == ["direct"]


async def test_rooms_lists_public_names_entered_by_any_plugin(probe_server, clients):
    alice = await clients.python(probe_server.url)
    red, blue = new_room("red"), new_room("blue")
    assert await alice.call("probe_rooms") == {"ok": True, "rooms": []}
    assert await alice.call("entry", red, "alice") == OK
    assert await alice.call("probe_enter", blue) == OK
    assert sorted((await alice.call("probe_rooms"))["rooms"]) == sorted([red, blue])
    assert await alice.call("probe_leave", red) == OK
    assert (await alice.call("probe_rooms"))["rooms"] == [blue]
    # group_chat's room, left through ctx.leave_room: its messages stop coming
    bob = await clients.python(probe_server.url)
    assert await bob.call("entry", red, "bob") == OK
    assert await bob.call("groupmsg", red, "still here?") == OK
    await alice.assert_none("receiveGroupMsg", within=0.3)


async def test_a_plugin_enters_a_client_into_a_group_chat_room(probe_server, clients):
    room = new_room()
    alice = await clients.python(probe_server.url)
    bob = await clients.js(probe_server.url, transports=["polling"])
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("probe_enter", room) == OK
    assert await alice.call("groupmsg", room, "hello room") == OK
    assert await bob.expect("receiveGroupMsg") == [room, "hello room"]


async def test_disconnect_runs_the_disconnect_hooks(probe_server, clients):
    room = new_room()
    alice = await clients.python(probe_server.url)
    bob = await clients.js(probe_server.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("entry", room, "bob") == OK
    assert await bob.expect("entryok") == [f"You entered room {room} as bob"]
    await alice.emit("probe_kick")
    await alice.expect("disconnect")
    # group_chat's disconnect hook ran, while alice was still in the room
    assert await bob.expect("entryok") == ["alice left the room"]


async def test_public_rooms_reach_members_on_another_process(start_server, redis_server, clients):
    from tests.core.api.conftest import with_fixture_plugins
    from tests.support.server import merge

    shared = merge(with_fixture_plugins("api_probe"),
                   {"backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    one, two = start_server(shared, name="one"), start_server(shared, name="two")
    room = new_room()
    alice = await clients.js(one.url)
    bob = await clients.python(two.url)
    victim = await clients.python(one.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("probe_room_emit", room, "from the other process") == OK
    assert await alice.expect("probe_room_event") == ["from the other process"]
    # a sid-named room reaches nobody on the other process either
    assert await bob.call("probe_room_emit", victim.sio.get_sid(), "gotcha") == OK
    await victim.assert_none("probe_room_event", within=0.5)

"""group_chat over the wire: entry/groupmsg reach the members of a room and nobody else."""

from tests.plugins.wire import OK, new_room, refused, settle

VALUES = [
    "hello", "", "héllo 世界 🎉", "a\nb", 0, -2.5, 10**15, True, False, None, [],
    [1, "two", None, [3.5]], {}, {"user": {"name": "Zoë", "tags": ["a"], "age": None}},
]


def welcome(room, nick):
    return [f"You entered room {room} as {nick}"]


async def enter(client, room, nick):
    """Enter and consume the welcome."""
    assert await client.call("entry", room, nick) == OK
    assert await client.expect("entryok") == welcome(room, nick)


async def test_entry_acks_ok_and_welcomes_the_sender(server, connect):
    alice = await connect(server.url)
    room = new_room()
    assert await alice.call("entry", room, "alice") == OK
    assert await alice.expect("entryok") == welcome(room, "alice")


async def test_entry_tells_those_already_in_the_room(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    assert await alice.expect("entryok") == ["bob entered the room"]


async def test_entry_is_not_announced_to_the_newcomer_nor_outside_the_room(server, connect):
    alice, bob, carol, dave = [await connect(server.url) for _ in range(4)]
    room, other = new_room(), new_room()
    await enter(alice, room, "alice")
    await enter(carol, other, "carol")
    await enter(bob, room, "bob")
    await settle(bob, alice, carol, dave)
    assert alice.inbox.all("entryok") == [welcome(room, "alice"), ["bob entered the room"]]
    assert bob.inbox.all("entryok") == [welcome(room, "bob")]
    assert carol.inbox.all("entryok") == [welcome(other, "carol")]
    assert dave.inbox.all("entryok") == []


async def test_groupmsg_reaches_every_member_including_sender(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    assert await alice.call("groupmsg", room, "hi room") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "hi room"]
    assert await bob.expect("receiveGroupMsg") == [room, "hi room"]


async def test_groupmsg_does_not_reach_clients_outside_the_room(server, connect):
    alice, carol, dave = [await connect(server.url) for _ in range(3)]
    room = new_room()
    await enter(alice, room, "alice")
    await enter(carol, new_room(), "carol")
    assert await alice.call("groupmsg", room, "members only") == OK
    await settle(alice, carol, dave)
    assert alice.inbox.all("receiveGroupMsg") == [[room, "members only"]]
    assert carol.inbox.all("receiveGroupMsg") == []
    assert dave.inbox.all("receiveGroupMsg") == []


async def test_groupmsg_relays_any_json_value_unchanged(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    for value in VALUES:
        assert await alice.call("groupmsg", room, value) == OK
        assert await alice.expect("receiveGroupMsg") == [room, value]
        assert await bob.expect("receiveGroupMsg") == [room, value]


async def test_rooms_are_isolated_with_three_clients_in_two_rooms(server, connect):
    alice, bob, carol = [await connect(server.url) for _ in range(3)]
    red, blue = new_room("red"), new_room("blue")
    await enter(alice, red, "alice")
    await enter(bob, red, "bob")
    await enter(bob, blue, "bob")
    await enter(carol, blue, "carol")

    assert await alice.call("groupmsg", red, "to red") == OK
    assert await carol.call("groupmsg", blue, "to blue") == OK
    assert await bob.call("groupmsg", red, "bob to red") == OK
    await settle(bob, alice, carol)

    assert alice.inbox.all("receiveGroupMsg") == [[red, "to red"], [red, "bob to red"]]
    assert bob.inbox.all("receiveGroupMsg") == [[red, "to red"], [blue, "to blue"], [red, "bob to red"]]
    assert carol.inbox.all("receiveGroupMsg") == [[blue, "to blue"]]


async def test_groupmsg_to_a_room_not_entered_is_refused_and_reaches_nobody(server, connect, clients):
    alice = await clients.python(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, new_room(), "bob")

    ack = await bob.call("groupmsg", room, "let me in")
    assert ack == {"ok": False, "error": f"groupmsg: you are not in room {room!r}; send entry first"}
    await settle(bob, alice)
    assert alice.inbox.all("receiveGroupMsg") == []
    assert bob.inbox.all("receiveGroupMsg") == []


async def test_second_entry_with_the_same_nickname_only_welcomes_again(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    assert await alice.expect("entryok") == ["bob entered the room"]

    assert await bob.call("entry", room, "bob") == OK
    assert await bob.expect("entryok") == welcome(room, "bob")
    await settle(bob, alice)
    assert alice.inbox.all("entryok")[1:] == [["bob entered the room"]]
    assert bob.inbox.all("entryok") == [welcome(room, "bob")] * 2


async def test_second_entry_with_a_new_nickname_announces_the_rename(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    assert await alice.expect("entryok") == ["bob entered the room"]

    assert await bob.call("entry", room, "robert") == OK
    assert await bob.expect("entryok") == welcome(room, "robert")
    assert await alice.expect("entryok") == ["bob is now robert"]
    await settle(bob, alice)
    assert len(alice.inbox.all("entryok")) == 3
    assert len(bob.inbox.all("entryok")) == 2


async def test_a_client_can_be_in_several_rooms_at_once(server, connect):
    bob = await connect(server.url)
    rooms = [new_room() for _ in range(3)]
    for room in rooms:
        await enter(bob, room, "bob")
    for room in rooms:
        assert await bob.call("groupmsg", room, f"in {room}") == OK
        assert await bob.expect("receiveGroupMsg") == [room, f"in {room}"]


async def test_a_client_may_use_a_different_nickname_in_each_room(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    red, blue = new_room(), new_room()
    await enter(alice, red, "alice")
    await enter(alice, blue, "alice")
    await enter(bob, red, "bob")
    await enter(bob, blue, "bobby")
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bobby entered the room"]


async def test_disconnect_tells_each_room_the_member_left(server, connect, clients):
    alice = await clients.python(server.url)
    carol = await clients.python(server.url)
    bob = await connect(server.url)
    red, blue = new_room(), new_room()
    await enter(alice, red, "alice")
    await enter(carol, blue, "carol")
    await enter(bob, red, "bob")
    await enter(bob, blue, "bob")
    await settle(bob, alice, carol)

    await bob.close()
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bob left the room"]
    assert await carol.expect("entryok") == ["bob entered the room"]
    assert await carol.expect("entryok") == ["bob left the room"]


async def test_left_notice_goes_only_to_the_rooms_the_member_was_in(server, clients):
    alice, bob, dave = [await clients.python(server.url) for _ in range(3)]
    red, blue = new_room(), new_room()
    await enter(alice, red, "alice")
    await enter(dave, blue, "dave")
    await enter(bob, red, "bob")
    await bob.close()
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bob left the room"]
    await settle(alice, dave)
    assert dave.inbox.all("entryok") == [welcome(blue, "dave")]


async def test_left_notice_uses_the_latest_nickname(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    await enter(bob, room, "robert")
    await bob.close()
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bob is now robert"]
    assert await alice.expect("entryok") == ["robert left the room"]


async def test_a_member_who_left_no_longer_gets_room_messages(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    room = new_room()
    await enter(alice, room, "alice")
    await enter(bob, room, "bob")
    await bob.close()
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bob left the room"]
    assert await alice.call("groupmsg", room, "anyone?") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "anyone?"]
    assert bob.inbox.all("receiveGroupMsg") == []


async def test_nickname_is_shown_verbatim_not_as_a_template(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room()
    await enter(alice, room, "{roomId}")
    await enter(bob, room, "{0} {oldNickName} %s")
    assert await alice.expect("entryok") == ["{0} {oldNickName} %s entered the room"]


async def test_unicode_room_and_nickname(server, connect):
    alice = await connect(server.url)
    bob = await connect(server.url)
    room = new_room("salle-été-房间-🎉")
    await enter(alice, room, "Zoë")
    await enter(bob, room, "小明 🐼")
    assert await alice.expect("entryok") == ["小明 🐼 entered the room"]
    assert await bob.call("groupmsg", room, "你好") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "你好"]


async def test_room_and_nickname_at_their_length_limits_are_accepted(server, connect):
    alice = await connect(server.url)
    room = new_room().ljust(64, "r")
    nick = "n" * 32
    await enter(alice, room, nick)
    assert await alice.call("groupmsg", room, "max") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "max"]


async def test_every_client_kind_shares_a_room(server, clients):
    members = [
        await clients.python(server.url, transports=["websocket"]),
        await clients.js(server.url, transports=["websocket"]),
        await clients.js(server.url, transports=["polling"]),
    ]
    room = new_room()
    for i, member in enumerate(members):
        await enter(member, room, f"m{i}")
    for i, sender in enumerate(members):
        assert await sender.call("groupmsg", room, {"from": i}) == OK
        for member in members:
            assert await member.expect("receiveGroupMsg") == [room, {"from": i}]


async def test_leave_stops_room_messages_and_tells_the_others(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.js(server.url)
    room = new_room()
    await alice.call("entry", room, "alice")
    await bob.call("entry", room, "bob")
    assert await alice.call("leave", room) == OK
    assert "alice left the room" in [args[0] for args in (await bob.expect("entryok"), await bob.expect("entryok"))]
    await bob.call("groupmsg", room, "still here?")
    assert await bob.expect("receiveGroupMsg") == [room, "still here?"]
    await alice.assert_none("receiveGroupMsg", within=0.3)
    assert await alice.call("groupmsg", room, "back?") == refused(f"groupmsg: you are not in room {room!r}; send entry first")


async def test_leave_a_room_not_entered_is_refused(server, clients):
    alice = await clients.python(server.url)
    room = new_room()
    assert await alice.call("leave", room) == refused(f"leave: you are not in room {room!r}")

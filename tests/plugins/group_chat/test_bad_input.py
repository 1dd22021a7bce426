"""group_chat refuses bad entry/groupmsg input with a clear error ack, tells nobody, and keeps serving."""

import pytest

from tests.plugins.wire import KINDS, OK, ServerLog, new_room, open_client, refused, settle

LOBBY = "lobby"  # stands for the bystander's room in the table below
LONG_ROOM = "r" * 65
LONG_NICK = "n" * 33

WRONG_TYPES = [(1, "a number"), (2.5, "a number"), ({}, "an object"), ({"id": "lobby"}, "an object"),
               ([], "an array"), (["lobby"], "an array"), (None, "null"), (True, "a boolean")]
BLANKS = ["", " ", "   ", "\t\n", "\u3000"]

# (event, args, reason); LOBBY is replaced by the bystander's room; bytes are python-only.
BAD = [
    ("entry", (), "entry expects 2 arguments (roomId, nickName), got 0"),
    ("entry", (LOBBY,), "entry expects 2 arguments (roomId, nickName), got 1"),
    ("entry", (LOBBY, "eve", "extra"), "entry expects 2 arguments (roomId, nickName), got 3"),
    *[("entry", (value, "eve"), f"entry: roomId must be a string, not {name}") for value, name in WRONG_TYPES],
    *[("entry", (LOBBY, value), f"entry: nickName must be a string, not {name}") for value, name in WRONG_TYPES],
    ("entry", (b"lobby", "eve"), "entry: roomId must be a string, not binary data"),
    *[("entry", (blank, "eve"), "entry: roomId must not be empty") for blank in BLANKS],
    *[("entry", (LOBBY, blank), "entry: nickName must not be empty") for blank in BLANKS],
    ("entry", (LONG_ROOM, "eve"), "entry: roomId is too long (65 characters, at most 64)"),
    ("entry", (LOBBY, LONG_NICK), "entry: nickName is too long (33 characters, at most 32)"),
    ("entry", (LOBBY, "é" * 33), "entry: nickName is too long (33 characters, at most 32)"),
    ("entry", ("a\nb", "eve"), "entry: roomId contains a character that is not allowed ('\\n')"),
    ("entry", ("a\x00", "eve"), "entry: roomId contains a character that is not allowed ('\\x00')"),
    ("entry", (LOBBY, "ev\x1be"), "entry: nickName contains a character that is not allowed ('\\x1b')"),
    ("entry", (LOBBY, "eve\x7f"), "entry: nickName contains a character that is not allowed ('\\x7f')"),
    ("groupmsg", (), "groupmsg expects 2 arguments (roomId, msg), got 0"),
    ("groupmsg", (LOBBY,), "groupmsg expects 2 arguments (roomId, msg), got 1"),
    ("groupmsg", (LOBBY, "hi", "extra"), "groupmsg expects 2 arguments (roomId, msg), got 3"),
    *[("groupmsg", (value, "hi"), f"groupmsg: roomId must be a string, not {name}") for value, name in WRONG_TYPES],
    *[("groupmsg", (blank, "hi"), "groupmsg: roomId must not be empty") for blank in BLANKS],
    ("groupmsg", (LONG_ROOM, "hi"), "groupmsg: roomId is too long (65 characters, at most 64)"),
    ("groupmsg", ("a\rb", "hi"), "groupmsg: roomId contains a character that is not allowed ('\\r')"),
    ("groupmsg", (LOBBY, b"\x00"), "groupmsg: msg must be a JSON value (no binary data, NaN or Infinity)"),
    ("groupmsg", (LOBBY, "hi"), "groupmsg: you are not in room {LOBBY!r}; send entry first"),
]
JSON_BAD = [case for case in BAD if not any(isinstance(a, bytes) for a in case[1])]


def case_id(case):
    event, args, _ = case
    return f"{event}{args!r}"[:60]


def fill(args, reason, lobby):
    """Put the bystander's room in place of LOBBY."""
    return tuple(lobby if a == LOBBY else a for a in args), reason.replace("{LOBBY!r}", repr(lobby))


@pytest.mark.parametrize("event, args, reason", BAD, ids=[case_id(c) for c in BAD])
async def test_bad_input_gets_an_error_ack_and_nobody_hears_of_it(server, clients, event, args, reason):
    sender = await clients.python(server.url)
    bystander = await clients.python(server.url)
    lobby = new_room(LOBBY)
    assert await bystander.call("entry", lobby, "bob") == OK
    args, reason = fill(args, reason, lobby)
    log = ServerLog(server)

    assert await sender.call(event, *args) == refused(reason)

    await settle(sender, bystander)
    assert bystander.inbox.all("entryok") == [[f"You entered room {lobby} as bob"]]
    assert bystander.inbox.all("receiveGroupMsg") == []
    assert sender.inbox.all("entryok") == []
    log.assert_refused(event, reason)


@pytest.mark.parametrize("event", ["entry", "groupmsg"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("js")])
async def test_js_client_gets_the_same_error_acks(server, clients, kind, event):
    sender = await open_client(clients, server.url, kind)
    bystander = await clients.python(server.url)
    lobby = new_room(LOBBY)
    assert await bystander.call("entry", lobby, "bob") == OK
    log = ServerLog(server)
    cases = [case for case in JSON_BAD if case[0] == event]

    for _, args, reason in cases:
        args, reason = fill(args, reason, lobby)
        assert await sender.call(event, *args) == refused(reason), args

    await settle(sender, bystander)
    assert bystander.inbox.all("entryok") == [[f"You entered room {lobby} as bob"]]
    assert bystander.inbox.all("receiveGroupMsg") == []
    assert len(log.refused_lines(event)) == len(cases)
    log.assert_clean()


async def test_a_refused_entry_does_not_join_the_room(server, connect):
    alice = await connect(server.url)
    room = new_room()
    assert (await alice.call("entry", room, ""))["ok"] is False
    ack = await alice.call("groupmsg", room, "hi")
    assert ack == refused(f"groupmsg: you are not in room {room!r}; send entry first")


async def test_a_refused_rename_keeps_the_old_nickname(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    room = new_room()
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("entry", room, "bob") == OK
    assert (await bob.call("entry", room, "b" * 33))["ok"] is False
    await bob.close()
    assert await alice.expect("entryok") == [f"You entered room {room} as alice"]
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await alice.expect("entryok") == ["bob left the room"]


async def test_sender_keeps_working_after_a_refusal(server, connect):
    alice = await connect(server.url)
    room = new_room()
    assert (await alice.call("entry", room))["ok"] is False
    assert await alice.call("entry", room, "alice") == OK
    assert await alice.call("groupmsg", room, "fine") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "fine"]


async def test_room_ids_are_not_coerced_from_numbers(server, clients):
    alice = await clients.python(server.url)
    assert await alice.call("entry", "1", "alice") == OK
    assert await alice.call("groupmsg", 1, "hi") == refused("groupmsg: roomId must be a string, not a number")


async def test_a_room_named_like_a_client_sid_is_an_ordinary_room(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    room = bob.sio.get_sid()
    log = ServerLog(server)
    assert await alice.call("entry", room, "eve") == OK
    assert await alice.call("groupmsg", room, "psst") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "psst"]
    log.assert_clean()


async def test_a_room_named_like_a_client_sid_does_not_reach_that_client(server, clients):
    alice = await clients.python(server.url)
    bob = await clients.python(server.url)
    room = bob.sio.get_sid()
    await alice.call("entry", room, "eve")
    await alice.call("groupmsg", room, "psst")
    await settle(alice, bob)
    assert bob.inbox.all("entryok") == []
    assert bob.inbox.all("receiveGroupMsg") == []

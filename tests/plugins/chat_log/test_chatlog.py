"""chat_log: GET /chatlog shows counts and the latest chat.message.sent / chat.room.entered / chat.room.left."""

from tests.plugins.wire import OK, ServerLog, chatlog, chatlog_when, new_room

SENT, ENTERED, LEFT = "chat.message.sent", "chat.room.entered", "chat.room.left"


def by(sid):
    """The recent entries of one client."""
    return lambda log: [e for e in log["recent"] if e.get("sid") == sid]


async def test_chatlog_counts_each_internal_event(start_server, clients):
    server = start_server()
    assert (await chatlog(server))["counts"] == {SENT: 0, ENTERED: 0, LEFT: 0}
    alice = await clients.python(server.url)
    await alice.call("broadcast", "one")
    await alice.call("test1", "two", "three")
    await alice.call("entry", "den", "alice")
    await alice.call("groupmsg", "den", "four")
    await alice.close()

    expected = {SENT: 3, ENTERED: 1, LEFT: 1}
    log = await chatlog_when(server, lambda log: log["counts"] == expected)
    assert [e["event"] for e in log["recent"]] == [SENT, SENT, ENTERED, SENT, LEFT]


async def test_broadcast_is_logged_with_plugin_sid_address_and_args(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    msg = {"text": "héllo", "list": [1, None]}
    assert await alice.call("broadcast", msg) == OK

    log = await chatlog_when(server, lambda log: by(sid)(log))
    [entry] = by(sid)(log)
    assert entry["plugin"] == "global_chat"
    assert entry["room"] is None
    assert entry["address"] == "127.0.0.1"
    assert entry["args"] == [msg]


async def test_test1_and_test2_are_logged_with_all_their_args(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    await alice.call("test1", "a", [2])
    await alice.call("test2", {"k": "v"})

    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 2)
    assert [e["args"] for e in by(sid)(log)] == [["a", [2]], [{"k": "v"}]]


async def test_entry_is_logged_with_room_nickname_and_address(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("entry", room, "alice")

    log = await chatlog_when(server, lambda log: by(sid)(log))
    [entry] = by(sid)(log)
    assert entry == {"event": ENTERED, "plugin": "group_chat", "room": room, "nickname": "alice",
                     "sid": sid, "address": "127.0.0.1"}


async def test_second_entry_into_the_same_room_is_not_logged_again(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("entry", room, "alice")
    await alice.call("entry", room, "alice")
    await alice.call("broadcast", "after")

    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 2)
    assert [e.get("nickname") for e in by(sid)(log)] == ["alice", None]


async def test_a_new_nickname_in_the_same_room_is_logged_as_left_renamed_then_entered(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("entry", room, "alice")
    await alice.call("entry", room, "alicia")
    await alice.call("broadcast", "after")

    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 4)
    assert [(e["event"], e.get("nickname"), e.get("reason")) for e in by(sid)(log)] == [
        (ENTERED, "alice", None), (LEFT, "alice", "renamed"), (ENTERED, "alicia", None), (SENT, None, None)]


async def test_groupmsg_is_logged_with_room_nickname_and_args(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("entry", room, "alice")
    await alice.call("groupmsg", room, ["any", {"json": True}])

    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 2)
    message = by(sid)(log)[1]
    assert message["plugin"] == "group_chat"
    assert message["room"] == room
    assert message["nickname"] == "alice"
    assert message["address"] == "127.0.0.1"
    assert message["args"] == [room, ["any", {"json": True}]]


async def test_disconnect_logs_a_leave_per_room(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    red, blue = new_room(), new_room()
    await alice.call("entry", red, "alice")
    await alice.call("entry", blue, "al")
    await alice.close()

    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 4)
    left = [e for e in by(sid)(log) if e["event"] == LEFT]
    assert [(e["room"], e["nickname"], e["plugin"]) for e in left] == [
        (red, "alice", "group_chat"), (blue, "al", "group_chat")]
    assert all(e["reason"] for e in left)


async def test_refused_requests_are_not_logged(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    assert (await alice.call("broadcast"))["ok"] is False
    assert (await alice.call("test2", "no"))["ok"] is False
    assert (await alice.call("entry", room, ""))["ok"] is False
    assert (await alice.call("groupmsg", room, "hi"))["ok"] is False
    assert await alice.call("broadcast", "the only one") == OK

    log = await chatlog_when(server, lambda log: by(sid)(log))
    assert [e["args"] for e in by(sid)(log)] == [["the only one"]]


async def test_js_clients_are_logged_too(server, clients):
    js = await clients.js(server.url, transports=["polling"])
    msg = new_room("from js")
    assert await js.call("broadcast", msg) == OK

    def mine(log):
        return [e for e in log["recent"] if e.get("args") == [msg]]

    [entry] = mine(await chatlog_when(server, mine))
    assert (entry["plugin"], entry["address"]) == ("global_chat", "127.0.0.1")


async def test_recent_keeps_only_the_latest_keep_events(start_server, clients):
    server = start_server(overrides={"plugins": {"chat_log": {"keep": 3}}})
    alice = await clients.python(server.url)
    for i in range(5):
        await alice.call("broadcast", i)
    log = await chatlog_when(server, lambda log: log["counts"][SENT] == 5)
    assert [e["args"] for e in log["recent"]] == [[2], [3], [4]]


async def test_chatlog_is_served_at_the_configured_path(start_server, clients):
    server = start_server(overrides={"plugins": {"chat_log": {"path": "/events"}}})
    alice = await clients.python(server.url)
    await alice.call("broadcast", "x")
    log = await chatlog_when(server, lambda log: log["counts"][SENT] == 1, path="/events")
    assert log["recent"][0]["args"] == ["x"]


async def test_log_each_writes_one_line_per_event(start_server, clients):
    server = start_server(overrides={"plugins": {"chat_log": {"log_each": True}}})
    log = ServerLog(server)
    alice = await clients.python(server.url)
    await alice.call("entry", "den", "alice")
    await alice.call("groupmsg", "den", "secret text")
    await chatlog_when(server, lambda log: log["counts"][SENT] == 1)
    lines = [line for line in log.new().splitlines() if "chat.plugins.chat_log" in line]
    assert [line.split(" chat.plugins.chat_log: ")[1].split(" ")[0] for line in lines] == [ENTERED, SENT]
    assert "secret text" not in log.new()
    log.assert_clean()


async def test_message_entries_say_which_socket_event_it_was(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("broadcast", "b")
    await alice.call("test1", 1, 2)
    await alice.call("test2", {})
    await alice.call("entry", room, "alice")
    await alice.call("groupmsg", room, "g")
    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 5)
    assert [e.get("socket_event") for e in by(sid)(log)] == ["broadcast", "test1", "test2", None, "groupmsg"]


async def test_message_entries_keep_their_internal_event_name(server, clients):
    alice = await clients.python(server.url)
    sid = alice.sio.get_sid()
    room = new_room()
    await alice.call("broadcast", "b")
    await alice.call("entry", room, "alice")
    await alice.call("groupmsg", room, "g")
    log = await chatlog_when(server, lambda log: len(by(sid)(log)) == 3)
    assert [e["event"] for e in by(sid)(log)] == [SENT, ENTERED, SENT]

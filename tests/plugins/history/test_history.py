"""history: the joiner gets the last messages before any live one, on any process, exactly at the seam."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.plugins.history.helpers import (FAST, eventually, events_in_order, health, on_redis, with_history)
from tests.plugins.wire import OK, new_room
from tests.support.server import merge

pytestmark = [pytest.mark.asyncio]


def cluster_config(redis, **history) -> dict:
    return merge(merge(FAST, on_redis(redis)), with_history(**history))


async def test_entry_on_another_process_gets_the_last_n_in_order(start_server, redis_server, clients):
    a = start_server(cluster_config(redis_server), name="a")
    b = start_server(cluster_config(redis_server), name="b")
    room = new_room()
    alice = await clients.python(a.url)
    assert await alice.call("entry", room, "alice") == OK
    assert (await alice.expect("groupHistory")) == [room, []]
    for i in range(60):
        assert await alice.call("groupmsg", room, {"nickName": "alice", "msg": f"m{i}"}) == OK
    bob = await clients.js(b.url)
    assert await bob.call("entry", room, "bob") == OK
    got_room, items = await bob.expect("groupHistory")
    assert got_room == room
    assert [i["msg"]["msg"] for i in items] == [f"m{i}" for i in range(10, 60)]  # the last 50, oldest first
    assert {i["nickName"] for i in items} == {"alice"}
    assert all(isinstance(i["at"], int) for i in items) and items == sorted(items, key=lambda i: i["at"])
    assert set(items[0]) == {"nickName", "msg", "at", "id"}
    # The everybody-chat has its own history, sent on connect.
    await alice.call("broadcast", "hello all")
    carol = await clients.python(b.url)
    [[item]] = await carol.expect("chatHistory")
    assert (item["nickName"], item["msg"]) == (None, "hello all") and isinstance(item["at"], int)
    assert len({i["id"] for i in items} | {item["id"]}) == 51  # every message its own id
    figures = (await health(b))["plugins"]["history"]
    assert figures["joins"] >= 2 and figures["dropped"] == 0


async def poster(client, room: str, tag: str, count: int, rate: float) -> None:
    """Post `count` numbered messages at about `rate` per second."""
    for i in range(count):
        await client.emit("groupmsg", room, {"nickName": tag, "msg": f"{tag}:{i}"})
        await asyncio.sleep(1 / rate)


def seen_by(client, room: str) -> tuple[list[str], list[str], bool]:
    """(history texts, live texts, whether the history came before every live message of room)."""
    history, live, history_first = [], [], True
    for name, args in events_in_order(client, {"groupHistory", "receiveGroupMsg"}):
        if args[0] != room:
            continue
        if name == "groupHistory":
            if live:
                history_first = False
            history += [item["msg"]["msg"] for item in args[1]]
        else:
            live.append(args[1]["msg"])
    return history, live, history_first


async def test_seam_is_exact_while_others_post_at_100_per_second(start_server, redis_server, clients):
    a = start_server(cluster_config(redis_server, max_messages=30), name="a")
    b = start_server(cluster_config(redis_server, max_messages=30), name="b")
    room = new_room("seam")
    posters = {"pa": await clients.python(a.url), "pb": await clients.python(b.url)}
    for tag, client in posters.items():
        assert await client.call("entry", room, tag) == OK
    count = 250  # 2 posters at ~60/s each on two processes: ~120 messages a second for ~4 s
    posting = asyncio.gather(*(poster(c, room, tag, count, 60) for tag, c in posters.items()))
    joiners = []
    rng = random.Random(15)
    for n in range(8):  # joiners on both processes, both client kinds, at random moments
        await asyncio.sleep(rng.uniform(0.1, 0.4))
        url = (a, b)[n % 2].url
        joiner = await (clients.js(url) if n % 4 < 2 else clients.python(url))
        assert await joiner.call("entry", room, f"j{n}") == OK
        joiners.append(joiner)
    await posting
    last = {tag: f"{tag}:{count - 1}" for tag in posters}
    for n, joiner in enumerate(joiners):
        await eventually(lambda: all(t in seen_by(joiner, room)[1] for t in last.values()), timeout=10)
        history, live, history_first = seen_by(joiner, room)
        assert history_first, f"joiner {n}: a live message came before the history"
        combined = history + live
        assert len(combined) == len(set(combined)), f"joiner {n}: duplicates {combined}"
        for tag in posters:  # per poster: one unbroken run up to its last message, nothing lost
            mine = [int(t.split(":")[1]) for t in combined if t.startswith(tag + ":")]
            assert mine == list(range(mine[0], count)), f"joiner {n}, {tag}: {mine}"
        assert len(history) <= 30
    joins = [(await health(s))["plugins"]["history"]["joins"] for s in (a, b)]
    assert sum(joins) >= len(joiners) + len(posters)


async def test_chat_history_on_connect_comes_before_live_broadcasts(start_server, clients):
    server = start_server(merge(FAST, with_history(max_messages=20)))
    sender = await clients.python(server.url)
    await sender.expect("chatHistory")
    for i in range(5):
        assert await sender.call("broadcast", f"b{i}") == OK

    async def blast():
        for i in range(5, 205):
            await sender.emit("broadcast", f"b{i}")
            await asyncio.sleep(0.01)

    posting = asyncio.create_task(blast())
    late = []
    for _ in range(4):
        await asyncio.sleep(0.3)
        late.append(await clients.js(server.url))
    await posting
    def seen(client) -> list[str]:
        return [i["msg"] for a in client.inbox.all("chatHistory") for i in a[0]] + \
            [a[0] for a in client.inbox.all("receiveAll")]

    for client in late:
        await eventually(lambda: "b204" in seen(client))  # in the history or live
        order = events_in_order(client, {"chatHistory", "receiveAll"})
        assert order[0][0] == "chatHistory"
        assert all(name == "receiveAll" for name, _ in order[1:])
        combined = [i["msg"] for i in order[0][1][0]] + [args[0] for _, args in order[1:]]
        numbers = [int(t[1:]) for t in combined]
        assert numbers == list(range(numbers[0], 205)), numbers  # no gap, no duplicate
        assert len(order[0][1][0]) == 20


async def test_caps_on_messages_and_rooms_and_idle_expiry(start_server, clients):
    server = start_server(merge(FAST, with_history(max_messages=5, max_rooms=3, max_age=2)))
    alice = await clients.python(server.url)
    rooms = [new_room("cap") for _ in range(4)]
    for room in rooms:
        assert await alice.call("entry", room, "alice") == OK
        for i in range(8):
            assert await alice.call("groupmsg", room, f"{room}/{i}") == OK
    bob = await clients.python(server.url)
    assert await bob.call("entry", rooms[3], "bob") == OK
    _, items = await bob.expect("groupHistory")
    assert [i["msg"] for i in items] == [f"{rooms[3]}/{i}" for i in range(3, 8)]  # the last 5
    figures = await eventually(lambda: _history_figures(server, lambda f: f["rooms"] == 3))
    assert figures["rooms_evicted"] == 1
    assert await bob.call("entry", rooms[0], "bob") == OK  # the least recently active room went
    assert (await bob.expect("groupHistory"))[1] == []
    await asyncio.sleep(2.2)  # max_age: idle rooms are forgotten, old messages not shown
    carol = await clients.python(server.url)
    assert await carol.call("entry", rooms[3], "carol") == OK
    assert (await carol.expect("groupHistory")) == [rooms[3], []]
    assert (await carol.expect("chatHistory")) == [[]]


async def _history_figures(server, condition):
    figures = (await health(server))["plugins"]["history"]
    return figures if condition(figures) else None


async def test_pages_that_know_no_history_work_as_before(start_server, clients):
    """The tutorial's contract is unchanged with history on: same acks, same events, two more events."""
    server = start_server(with_history())
    alice = await clients.js(server.url, transports=["polling"])
    bob = await clients.python(server.url)
    room = new_room()
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("entry", room, "bob") == OK
    assert await alice.expect("entryok") == [f"You entered room {room} as alice"]
    assert await alice.expect("entryok") == ["bob entered the room"]
    assert await bob.call("groupmsg", room, "hi") == OK
    assert await alice.expect("receiveGroupMsg") == [room, "hi"]
    assert await bob.call("broadcast", "all") == OK
    assert await alice.expect("receiveAll") == ["all"]
    assert await alice.call("nope") == {"ok": False, "error": "unknown event 'nope'"}

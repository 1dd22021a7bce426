"""moderation: blocked words refused or masked, mutes and kicks by a moderator token on any process."""

from __future__ import annotations

import asyncio

import pytest

from tests.plugins.presence.roster import ready
from tests.plugins.wire import OK, refused
from tests.support.server import merge

TOKEN = "moderator-secret-1"
MODERATION = {"plugins": {"moderation": {"enabled": True, "blocked_words": ["darn", "heck it"],
                                         "moderator_tokens": [TOKEN], "kick_block_seconds": 60}}}
BLOCKED = refused("message refused: it contains a blocked word")


async def entered(client, room: str, nick: str):
    assert (await client.call("entry", room, nick))["ok"]
    await asyncio.sleep(0.05)  # the entry's event reaches moderation a moment after the ack
    return client


async def test_blocked_words_are_refused_with_a_clear_error(start_server, clients):
    server = start_server(MODERATION)
    ann = await entered(await clients.js(server.url), "r1", "ann")
    bob = await entered(await clients.python(server.url), "r1", "bob")
    assert await ann.call("groupmsg", "r1", {"nickName": "ann", "msg": "oh DARN"}) == BLOCKED
    assert await ann.call("broadcast", "well heck it") == BLOCKED
    assert await ann.call("groupmsg", "r1", "darning socks is fine") == OK
    assert await bob.expect("receiveGroupMsg") == ["r1", "darning socks is fine"]
    await bob.assert_none("receiveGroupMsg", within=0.2)
    await bob.assert_none("receiveAll", within=0)
    assert "refused groupmsg from" in server.logs()


async def test_masking_instead_of_refusing(start_server, clients):
    server = start_server(merge(MODERATION, {"plugins": {"moderation": {"word_action": "mask"}}}))
    ann = await entered(await clients.python(server.url), "r1", "ann")
    bob = await entered(await clients.js(server.url), "r1", "bob")
    assert await ann.call("groupmsg", "r1", {"nickName": "ann", "msg": "Darn, heck it!"}) == OK
    assert await bob.expect("receiveGroupMsg") == ["r1", {"nickName": "ann", "msg": "****, *******!"}]


@pytest.fixture
def two(start_server, redis_server):
    config = merge(MODERATION, {"backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    return start_server(config, name="a"), start_server(config, name="b")


@pytest.mark.redis
async def test_a_mute_on_one_process_silences_the_member_on_another(two, clients):
    a, b = two
    await ready(a, b)
    mod = await entered(await clients.python(a.url), "r1", "mod")
    ann = await entered(await clients.js(b.url), "r1", "ann")
    bob = await entered(await clients.python(b.url), "r1", "bob")
    await entered(ann, "r2", "ann")

    assert (await mod.call("mute", "r1", "ann", 60, TOKEN))["ok"]
    for client in (mod, ann, bob):
        assert await client.expect("moderation") == ["r1", {"action": "muted", "nickName": "ann", "seconds": 60}]
    answer = await ann.call("groupmsg", "r1", "can you hear me")
    assert answer["ok"] is False and answer["error"].startswith("you were muted in room 'r1' by a moderator")
    assert await ann.call("groupmsg", "r2", "other rooms are fine") == OK
    assert await bob.call("groupmsg", "r1", "bob is fine") == OK
    assert await mod.expect("receiveGroupMsg") == ["r1", "bob is fine"]

    assert await mod.call("unmute", "r1", "ann", TOKEN) == {"ok": True, "removed": True}
    assert await bob.expect("moderation") == ["r1", {"action": "unmuted", "nickName": "ann"}]
    assert await ann.call("groupmsg", "r1", "back") == OK
    assert await mod.expect("receiveGroupMsg") == ["r1", "back"]


@pytest.mark.redis
async def test_a_kick_disconnects_every_connection_of_the_nickname_on_any_process(two, clients):
    a, b = two
    await ready(a, b)
    mod = await entered(await clients.python(a.url), "r1", "mod")
    bob_tabs = [await entered(await clients.js(b.url), "r1", "bob"),
                await entered(await clients.python(a.url), "r1", "bob")]
    cat = await entered(await clients.python(b.url), "r1", "cat")

    assert await mod.call("kick", "r1", "bob", TOKEN) == {"ok": True, "kicked": 2}
    for tab in bob_tabs:
        assert await tab.expect("moderation") == ["r1", {"action": "kicked", "nickName": "bob"}]
        await tab.expect("disconnect")
    assert await cat.expect("moderation") == ["r1", {"action": "kicked", "nickName": "bob"}]
    await cat.assert_none("disconnect", within=0.3)

    # Back with the same nickname: may read, may not post for kick_block_seconds.
    again = await entered(await clients.python(b.url), "r1", "bob")
    answer = await again.call("groupmsg", "r1", "I'm back")
    assert answer["ok"] is False and answer["error"].startswith("you were removed from room 'r1' by a moderator")


async def test_only_a_moderator_token_may_mute(start_server, clients):
    server = start_server(MODERATION)
    ann = await entered(await clients.python(server.url), "r1", "ann")
    assert await ann.call("mute", "r1", "bob", 60, "guessing") == refused("mute: not allowed (not a moderator token)")
    assert await ann.call("kick", "r1", "bob", "") == refused("kick: token must not be empty")
    assert await ann.call("mute", "r1", "bob", 0, TOKEN) == refused(
        "mute: seconds must be a whole number of seconds, at least 1")
    assert await ann.call("groupmsg", "r1", "still talking") == OK

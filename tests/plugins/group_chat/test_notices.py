"""group_chat notices follow the configured wording, with {nickName}, {roomId} and {oldNickName}."""

from tests.plugins.wire import OK

WORDING = {
    "welcome_notice": "Welcome to {roomId}, {nickName}!",
    "entered_notice": "* {nickName} joined {roomId}",
    "renamed_notice": "* {oldNickName} -> {nickName} in {roomId}",
    "left_notice": "* {nickName} ({roomId}) is gone",
}


async def test_notices_use_the_configured_wording(start_server, clients):
    server = start_server(overrides={"plugins": {"group_chat": WORDING}})
    alice = await clients.python(server.url)
    bob = await clients.js(server.url, transports=["polling"])

    assert await alice.call("entry", "den", "alice") == OK
    assert await alice.expect("entryok") == ["Welcome to den, alice!"]
    assert await bob.call("entry", "den", "bob") == OK
    assert await bob.expect("entryok") == ["Welcome to den, bob!"]
    assert await alice.expect("entryok") == ["* bob joined den"]
    assert await bob.call("entry", "den", "robert") == OK
    assert await bob.expect("entryok") == ["Welcome to den, robert!"]
    assert await alice.expect("entryok") == ["* bob -> robert in den"]
    await bob.close()
    assert await alice.expect("entryok") == ["* robert (den) is gone"]

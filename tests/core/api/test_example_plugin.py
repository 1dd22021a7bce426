"""A plugin kept outside the repository (members + /me + typing): from plugin_dirs, as an installed distribution, on two processes."""

import os
import signal
import urllib.request

import pytest

from tests.core.api.example_plugin import install_distribution, write_plugin
from tests.plugins.wire import OK, new_room, refused


@pytest.fixture(scope="module", params=["plugin_dirs", "entry_point"])
def members_server(request, module_server, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"members-{request.param}")
    if request.param == "plugin_dirs":
        write_plugin(workdir / "members")
        return module_server({"plugin_dirs": [str(workdir)], "plugins": {"members": {}}})
    site = install_distribution(workdir)
    assert (site / "chat_members" / "__init__.py").is_file()
    assert list(site.glob("chat_members_example-*.dist-info/entry_points.txt"))
    # The server sees the distribution through PYTHONPATH, as if pip had installed it in its venv.
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return module_server({"plugins": {"members": {}}}, env=env)


async def test_members_me_and_typing(members_server, clients):
    room = new_room()
    alice = await clients.js(members_server.url)
    bob = await clients.python(members_server.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await alice.expect("members") == [room, ["alice"]]
    assert await bob.call("entry", room, "bob") == OK
    assert await alice.expect("members") == [room, ["alice", "bob"]]
    assert await bob.call("members", room) == {"ok": True, "members": ["alice", "bob"]}

    assert await bob.call("me", room, "waves") == OK
    assert await alice.expect("me") == [room, "* bob waves"]
    assert await bob.expect("me") == [room, "* bob waves"]

    assert await alice.call("typing", room) == OK
    assert await bob.expect("typing") == [room, "alice"]
    await alice.assert_none("typing", within=0.3)

    await bob.close()
    assert await alice.expect("members") == [room, ["alice"]]


async def test_outsiders_cannot_act_in_a_room(members_server, clients):
    room = new_room()
    mallory = await clients.python(members_server.url)
    assert await mallory.call("me", room, "lurks") == refused(f"you are not in room {room!r}")
    assert await mallory.call("typing", room) == refused(f"you are not in room {room!r}")


def test_the_page_extension_is_served(members_server):
    with urllib.request.urlopen(members_server.url + "/groupchat", timeout=5) as page:
        html = page.read().decode()
    assert '<script src="/plugins/members/static/members.js"></script>' in html
    with urllib.request.urlopen(members_server.url + "/plugins/members/static/members.js", timeout=5) as js:
        assert js.headers.get_content_type() == "application/javascript"
        assert b'socket.on("members"' in js.read()
    with urllib.request.urlopen(members_server.url + "/groupchat.html", timeout=5) as page:
        standalone = page.read().decode()
    assert f'src="{members_server.url}/plugins/members/static/members.js"' in standalone  # where it was fetched from


async def members_become(client, room, want: list[str]) -> None:
    """Read `members` announcements until one says want (an earlier one may still be on its way)."""
    for _ in range(5):
        if await client.expect("members") == [room, want]:
            return
    raise AssertionError(f"no members announcement {want!r}")


async def test_same_member_list_on_two_processes_sharing_redis(start_server, redis_server, clients, tmp_path):
    write_plugin(tmp_path / "plugins" / "members", cluster=True)
    shared = {"backplane": {"kind": "redis", "redis": {"url": redis_server.url}},
              "plugin_dirs": [str(tmp_path / "plugins")], "plugins": {"members": {}}}
    one, two = start_server(shared, name="one"), start_server(shared, name="two")
    room = new_room()
    alice = await clients.js(one.url)
    bob = await clients.python(two.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await alice.expect("members") == [room, ["alice"]]
    assert await bob.call("entry", room, "bob") == OK
    # the announcement made on bob's process reaches alice on the other one
    await members_become(alice, room, ["alice", "bob"])
    await members_become(bob, room, ["alice", "bob"])
    assert await alice.call("members", room) == {"ok": True, "members": ["alice", "bob"]}
    assert await bob.call("members", room) == {"ok": True, "members": ["alice", "bob"]}
    await bob.close()
    await members_become(alice, room, ["alice"])
    assert await alice.call("members", room) == {"ok": True, "members": ["alice"]}


async def test_members_of_a_killed_process_are_removed_everywhere(start_server, redis_server, clients, tmp_path):
    write_plugin(tmp_path / "plugins" / "members", cluster=True)
    shared = {"backplane": {"kind": "redis", "redis": {"url": redis_server.url, "heartbeat_interval": 0.5,
                                                       "heartbeat_expiry": 2.0}},
              "plugin_dirs": [str(tmp_path / "plugins")], "plugins": {"members": {}}}
    one, two = start_server(shared, name="one"), start_server(shared, name="two")
    room = new_room()
    alice = await clients.python(one.url)
    bob = await clients.js(two.url)
    assert await alice.call("entry", room, "alice") == OK
    assert await bob.call("entry", room, "bob") == OK
    await members_become(alice, room, ["alice", "bob"])
    two.stop(signal.SIGKILL)  # no RoomLeft: bob's process is gone, ProcessDown cleans up after it
    for _ in range(3):
        try:
            await members_become(alice, room, ["alice"])
            break
        except AssertionError:  # each members_become waits up to 5 s per announcement
            continue
    assert await alice.call("members", room) == {"ok": True, "members": ["alice"]}

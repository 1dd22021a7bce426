"""Plugin loading: disabled plugins leave no trace, clashes and failing setups stop startup, hooks and internal events work."""

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from tests.support.server import BASE_CONFIG, merge, run_once

FIXTURE_PLUGINS = str(Path(__file__).resolve().parent / "fixture_plugins")


def with_fixture_plugins(**plugins) -> dict:
    """Overrides enabling the named test plugins from tests/core/fixture_plugins."""
    return {"plugin_dirs": [FIXTURE_PLUGINS], "plugins": {name: {} for name in plugins}}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# A disabled plugin ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_group_chat(module_server):
    return module_server({"plugins": {"group_chat": {"enabled": False}}})


async def test_disabled_plugin_events_are_unknown(without_group_chat, clients):
    alice = await clients.python(without_group_chat.url)
    assert await alice.call("entry", "lobby", "alice") == {"ok": False, "error": "unknown event 'entry'"}
    assert await alice.call("groupmsg", "lobby", "hi") == {"ok": False, "error": "unknown event 'groupmsg'"}


async def test_disabled_plugin_pages_are_gone(without_group_chat):
    assert get(without_group_chat.url + "/groupchat")[0] == 404
    assert get(without_group_chat.url + "/groupchat.html")[0] == 404


async def test_index_does_not_link_a_disabled_plugin(without_group_chat):
    status, page = get(without_group_chat.url + "/")
    assert status == 200
    assert 'href="/chat"' in page
    assert "/groupchat" not in page


async def test_other_plugins_still_work_when_one_is_disabled(without_group_chat, clients):
    alice = await clients.python(without_group_chat.url)
    assert await alice.call("broadcast", "hi") == {"ok": True}
    assert await alice.expect("receiveAll") == ["hi"]


def test_disabled_plugin_is_not_listed_at_startup(without_group_chat):
    [line] = [line for line in without_group_chat.logs().splitlines() if "serving on" in line]
    assert "global_chat" in line
    assert "group_chat" not in line


# Startup errors --------------------------------------------------------------------------------


def test_two_plugins_handling_one_event_stop_startup(tmp_path):
    config = merge(BASE_CONFIG, with_fixture_plugins(clash_one=1, clash_two=1))
    result = run_once(config, tmp_path)
    assert result.returncode == 2
    assert "plugins.clash_two: event 'shout' is already handled by plugin 'clash_one'" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_whose_setup_raises_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins(broken_setup=1)), tmp_path)
    assert result.returncode == 2
    assert ("plugins.broken_setup: setup failed: RuntimeError: database unreachable "
            "(at tests/core/fixture_plugins/broken_setup/__init__.py:7)") in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_that_fails_to_import_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins(broken_import=1)), tmp_path)
    assert result.returncode == 2
    assert ("plugins.broken_import: failed to import: ModuleNotFoundError: "
            "No module named 'chat_test_module_that_does_not_exist'") in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_without_setup_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins(no_setup=1)), tmp_path)
    assert result.returncode == 2
    assert "plugins.no_setup: the plugin module has no setup(ctx) function" in result.stderr


def test_plugin_handling_a_reserved_event_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins(reserved_event=1)), tmp_path)
    assert result.returncode == 2
    assert "plugins.reserved_event: event 'disconnect' is reserved" in result.stderr


def test_plugin_subscribing_to_a_malformed_event_name_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins(bad_event_name=1)), tmp_path)
    assert result.returncode == 2
    assert "plugins.bad_event_name: setup failed: ValueError: internal event names" in result.stderr
    assert "MessageWasSent.name is 'message-sent' (at tests/core/fixture_plugins/bad_event_name/__init__.py:15)" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_every_setup_problem_is_listed_in_one_run(tmp_path):
    config = merge(BASE_CONFIG, with_fixture_plugins(clash_one=1, clash_two=1, broken_setup=1))
    result = run_once(config, tmp_path)
    assert result.returncode == 2
    assert "plugins.clash_two: event 'shout' is already handled by plugin 'clash_one'" in result.stderr
    assert "plugins.broken_setup: setup failed: RuntimeError: database unreachable" in result.stderr


def test_unknown_plugin_dir_is_reported(tmp_path):
    config = merge(BASE_CONFIG, {"plugin_dirs": [str(tmp_path / "missing")]})
    result = run_once(config, tmp_path)
    assert result.returncode == 2
    assert f"plugin_dirs: {tmp_path / 'missing'}: no such folder" in result.stderr


# Internal events -----------------------------------------------------------------------------------


async def seen_by_spy(url: str, want: int) -> list[dict]:
    """What event_spy recorded, once it holds at least `want` events (publishing does not wait)."""
    for _ in range(50):
        seen = json.loads(get(url + "/event_spy")[1])
        if len(seen) >= want:
            return seen
        await asyncio.sleep(0.1)
    return seen


async def test_plugin_sees_internal_events_of_other_plugins(start_server, clients):
    proc = start_server(overrides=with_fixture_plugins(event_spy=1))
    alice = await clients.python(proc.url)
    assert await alice.call("entry", "lobby", "alice") == {"ok": True}
    assert await alice.call("groupmsg", "lobby", "hi room") == {"ok": True}
    assert await alice.call("broadcast", "hi all") == {"ok": True}

    seen = await seen_by_spy(proc.url, 3)
    entered = [e["payload"] for e in seen if e["signal"] == "chat.room.entered"]
    sent = [e["payload"] for e in seen if e["signal"] == "chat.message.sent"]
    assert [(e["plugin"], e["room"], e["nickname"]) for e in entered] == [("group_chat", "lobby", "alice")]
    assert {(e["plugin"], e["socket_event"], e["room"], tuple(e["args"])) for e in sent} == {
        ("group_chat", "groupmsg", "lobby", ("lobby", "hi room")),
        ("global_chat", "broadcast", None, ("hi all",)),
    }
    assert all(e["address"] == "127.0.0.1" for e in entered + sent)


# Connect hooks ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gatekeeper(module_server):
    return module_server(with_fixture_plugins(gatekeeper=1))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_hook_refusal_reaches_the_js_client(gatekeeper, clients, transport):
    mallory = await clients.js(gatekeeper.url, transports=[transport], expect_ok=False,
                               extra_opts={"auth": {"refuse": True}})
    [error] = await mallory.expect("connect_error")
    assert error["message"] == "go away"
    await mallory.assert_none("connect", within=0.3)


async def test_connect_hook_refusal_fails_the_python_client(gatekeeper, clients):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.python(gatekeeper.url, auth={"refuse": True})


async def test_connect_hook_lets_others_in(gatekeeper, clients):
    alice = await clients.js(gatekeeper.url, extra_opts={"auth": {"refuse": False}})
    assert await alice.call("broadcast", "still open") == {"ok": True}
    assert await alice.expect("receiveAll") == ["still open"]

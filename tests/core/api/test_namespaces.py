"""A plugin's own namespace goes through core's connect policy: token_auth, the per-address cap, limits."""

import json

import pytest
import socketio

from tests.core.api.conftest import with_fixture_plugins
from tests.plugins.wire import OK, ServerLog, refused
from tests.support.raw import RawWebSocket
from tests.support.server import merge

TOKEN = "s3cret-token"
CAP = 3
BURST = 5


@pytest.fixture(scope="module")
def guarded_server(module_server):
    """api_probe (namespace /probe) behind token_auth, a cap of 3 connections per address, a small burst."""
    return module_server(merge(with_fixture_plugins("api_probe"), {
        "server": {"max_connections_per_address": CAP,
                   "rate_limit": {"messages_per_second": 0.5, "burst": BURST, "disconnect_after": 0}},
        "plugins": {"token_auth": {"tokens": [TOKEN]}},
    }))


async def test_plugin_namespace_serves_its_events(guarded_server, clients):
    alice = await clients.js(guarded_server.url + "/probe", extra_opts={"auth": {"token": TOKEN}})
    assert await alice.call("where") == {"ok": True, "namespace": "/probe", "calls": 1, "address": "127.0.0.1"}
    assert await alice.call("where") == {"ok": True, "namespace": "/probe", "calls": 2, "address": "127.0.0.1"}
    # the default namespace's events are not this namespace's
    assert await alice.call("broadcast", "x") == refused("unknown event 'broadcast'")
    assert await alice.expect("welcome") == ["hello /probe"]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_plugin_namespace_goes_through_token_auth(guarded_server, clients, transport):
    mallory = await clients.js(guarded_server.url + "/probe", transports=[transport], expect_ok=False,
                               extra_opts={"auth": {"token": "wrong"}})
    [error] = await mallory.expect("connect_error")
    assert error["message"] == "authentication failed: missing or invalid token"
    await mallory.assert_none("welcome", within=0.3)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.python(guarded_server.url, namespace="/probe")


async def test_plugin_namespace_counts_toward_the_per_address_cap(guarded_server, clients):
    auth = {"token": TOKEN}
    # the cap counts Socket.IO connections of one address, in every namespace
    await clients.python(guarded_server.url, auth=auth)
    for _ in range(CAP - 1):
        await clients.js(guarded_server.url + "/probe", extra_opts={"auth": auth})
    fourth = await clients.js(guarded_server.url + "/probe", expect_ok=False, extra_opts={"auth": auth})
    [error] = await fourth.expect("connect_error")
    assert error["message"] == f"too many connections from your address (at most {CAP})"
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.python(guarded_server.url, namespace="/probe", auth=auth)


async def test_plugin_connect_hook_refusal_in_its_namespace(guarded_server, clients):
    refusedc = await clients.js(guarded_server.url + "/probe", expect_ok=False,
                                extra_opts={"auth": {"token": TOKEN, "refuse": True}})
    [error] = await refusedc.expect("connect_error")
    assert error["message"] == "not welcome in /probe"


async def test_plugin_namespace_is_rate_limited(guarded_server, clients):
    alice = await clients.js(guarded_server.url + "/probe", extra_opts={"auth": {"token": TOKEN}})
    for calls in range(1, BURST + 1):
        assert (await alice.call("where"))["calls"] == calls
    answer = await alice.call("where")
    assert answer["ok"] is False and answer["error"].startswith("rate limited: at most 0.5 messages per second")
    [notice] = await alice.expect("rate_limited")
    assert notice["event"] == "where"


async def test_handler_bug_in_a_namespace_answers_internal_error(guarded_server, clients):
    log = ServerLog(guarded_server)
    alice = await clients.python(guarded_server.url, namespace="/probe", auth={"token": TOKEN})
    assert await alice.call("probe_bug") == refused("internal error")
    await log.wait_for("RuntimeError: probe bug in /probe")
    assert await alice.call("where") == {"ok": True, "namespace": "/probe", "calls": 1, "address": "127.0.0.1"}


async def test_emit_in_a_connect_hook_arrives_after_the_connect_answer(guarded_server):
    ws = await RawWebSocket.open(guarded_server.url, join=False)
    try:
        await ws.send("40/probe," + json.dumps({"token": TOKEN}))
        first = await ws.recv()
        second = await ws.recv()
    finally:
        await ws.close()
    assert first.startswith('40/probe,{"sid":'), (first, second)
    assert second == '42/probe,["welcome","hello /probe"]', (first, second)


async def test_unknown_namespace_is_refused_as_the_node_server_does(guarded_server, clients):
    lost = await clients.js(guarded_server.url + "/nope", expect_ok=False, extra_opts={"auth": {"token": TOKEN}})
    [error] = await lost.expect("connect_error")
    assert error["message"] == "Invalid namespace"

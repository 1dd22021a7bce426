"""on_startup/on_shutdown, typed internal events, routes and page extensions, from a plugin's side."""

import asyncio
import json
import urllib.error
import urllib.request

from tests.core.api.conftest import with_fixture_plugins
from tests.plugins.wire import OK


def fetch(url: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read().decode()


async def probe_state(server, until=lambda state: True) -> dict:
    for _ in range(50):
        state = json.loads(fetch(server.url + "/probe/state")[2])
        if until(state):
            return state
        await asyncio.sleep(0.1)
    return state


async def test_startup_hook_ran_before_the_first_client(probe_server):
    assert (await probe_state(probe_server))["started"] is True


async def test_shutdown_hook_runs_before_clients_are_told(start_server, clients):
    server = start_server(with_fixture_plugins("api_probe"))
    await clients.python(server.url)
    server.stop()
    log = server.logs()
    assert "api_probe shutdown hook ran" in log
    assert log.index("api_probe shutdown hook ran") < log.index("told 1 client the server is stopping")
    assert "Task was destroyed but it is pending" not in log
    assert "Traceback" not in log


async def test_cluster_publish_on_one_process_is_delivered_once(probe_server, clients):
    alice = await clients.python(probe_server.url)
    for value in (1, 2, 3):
        assert await alice.call("probe_poke", value) == OK
    state = await probe_state(probe_server, lambda s: len(s["poked"]) >= 3)
    await asyncio.sleep(0.2)
    state = await probe_state(probe_server)
    assert state["poked"] == [{"value": v, "plugin": "api_probe"} for v in (1, 2, 3)]


def test_routes_return_plain_values_or_responses(probe_server):
    status, kind, _ = fetch(probe_server.url + "/probe/state")
    assert (status, kind) == (200, "application/json")
    assert fetch(probe_server.url + "/probe/teapot")[:2] == (418, "application/json")
    assert fetch(probe_server.url + "/probe/teapot", method="POST")[0] == 418


def test_page_extension_is_on_the_page_and_its_standalone_copy(probe_server):
    _, _, page = fetch(probe_server.url + "/groupchat")
    assert '<script src="/plugins/api_probe/static/probe.js"></script>' in page
    assert '<link rel="stylesheet" href="/plugins/api_probe/static/probe.css">' in page
    # after the page's own script, so chat.socket() exists
    assert page.index("probe.js") > page.index('socket.on("receiveGroupMsg"')
    _, _, standalone = fetch(probe_server.url + "/groupchat.html")
    assert f'src="{probe_server.url}/plugins/api_probe/static/probe.js"' in standalone  # where it was fetched from
    _, _, other = fetch(probe_server.url + "/chat")
    assert "probe.js" not in other
    assert fetch(probe_server.url + "/plugins/api_probe/static/probe.css")[:2] == (200, "text/css")
    assert fetch(probe_server.url + "/plugins/api_probe/static/../__init__.py")[0] == 404

"""A bug in core is logged with its traceback and answered `internal error`; it is never blamed on the client."""

import pytest

from tests.core.api.conftest import with_fixture_plugins
from tests.plugins.wire import OK, ServerLog, refused


@pytest.fixture(scope="module")
def faulty_server(module_server):
    return module_server(with_fixture_plugins("core_fault"))


@pytest.mark.parametrize("event", ["fault_in_limiter", "raw_fault"])
@pytest.mark.parametrize("kind", ["python", "js"])
async def test_a_fault_in_core_answers_internal_error_and_keeps_the_client(faulty_server, clients, kind, event):
    log = ServerLog(faulty_server)
    client = await (clients.python(faulty_server.url) if kind == "python" else clients.js(faulty_server.url))
    assert await client.call(event) == refused("internal error")
    await log.wait_for("RuntimeError: injected fault")
    text = log.new()
    assert text.count("Traceback") == 1
    assert "malformed" not in text and "closing connection" not in text
    assert await client.call("broadcast", "still here") == OK
    assert await client.expect("receiveAll") == ["still here"]


async def test_a_malformed_packet_still_closes_the_connection_with_one_line(faulty_server):
    from tests.support.raw import RawWebSocket

    log = ServerLog(faulty_server)
    ws = await RawWebSocket.open(faulty_server.url)
    await ws.send('42{"not": "a list"}')
    assert await ws.closed_within(2.0) < 2.0
    [line] = await log.wait_for("malformed Socket.IO packet")
    assert "closing connection from 127.0.0.1" in line
    assert "Traceback" not in log.new()

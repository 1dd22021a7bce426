"""Fixtures for the plugin wire tests: one client per kind, and a server with a small message limit."""

from __future__ import annotations

import pytest

from tests.plugins.wire import KINDS, SMALL_MESSAGE_SIZE, open_client
from tests.support.server import BASE_CONFIG, ServerProcess, merge


@pytest.fixture(params=KINDS)
def connect(request, clients):
    """`await connect(url)` -> a client of this test's kind (python-websocket, js-websocket, js-polling)."""

    async def connect(url: str):
        return await open_client(clients, url, request.param)

    return connect


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """A server with max_message_size 2048, shared by a test module."""
    config = merge(BASE_CONFIG, {"server": {"max_message_size": SMALL_MESSAGE_SIZE}})
    proc = ServerProcess(config, tmp_path_factory.mktemp("small-server"), name="small").start()
    yield proc
    proc.stop()

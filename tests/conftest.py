"""Fixtures: real server processes on free ports and real Socket.IO clients."""

from __future__ import annotations

import pytest

from tests.support.clients import Clients
from tests.support.server import BASE_CONFIG, ServerProcess, merge


@pytest.fixture
def start_server(tmp_path):
    """start_server(overrides={...}, env={...}) -> a running ServerProcess, stopped after the test."""
    started: list[ServerProcess] = []

    def start(overrides: dict | None = None, env: dict | None = None, args=(), wait=True,
              name="server", port=None) -> ServerProcess:
        proc = ServerProcess(merge(BASE_CONFIG, overrides or {}), tmp_path, port=port, env=env,
                             args=args, name=name)
        started.append(proc)
        return proc.start(wait=wait)

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server with every plugin, shared by a test module."""
    proc = ServerProcess(BASE_CONFIG, tmp_path_factory.mktemp("server")).start()
    yield proc
    proc.stop()


@pytest.fixture
async def clients():
    """Clients factory: `await clients.python(url)`, `await clients.js(url, transports=[...])`."""
    factory = Clients()
    yield factory
    await factory.close_all()


@pytest.fixture
def redis_server():
    """A fresh redis-server on a free port, killed after the test."""
    from tests.support.redis import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()

"""Fixtures for the core tests: servers with a custom config shared by a whole test module."""

from __future__ import annotations

import pytest

from tests.support.server import BASE_CONFIG, ServerProcess, merge


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """module_server(overrides={...}, port=None, env=None) -> a ServerProcess kept for the whole module."""
    started: list[ServerProcess] = []

    def start(overrides: dict | None = None, port: int | None = None, env: dict | None = None) -> ServerProcess:
        proc = ServerProcess(merge(BASE_CONFIG, overrides or {}), tmp_path_factory.mktemp("server"),
                             port=port, env=env)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()

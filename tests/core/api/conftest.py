"""Fixtures for the plugin API tests: a server with the api_probe test plugin next to the shipped ones."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_PLUGINS = str(Path(__file__).resolve().parent / "fixture_plugins")


def with_fixture_plugins(*names: str, **options) -> dict:
    """Overrides enabling test plugins from tests/core/api/fixture_plugins."""
    return {"plugin_dirs": [FIXTURE_PLUGINS], "plugins": {n: dict(options.get(n, {})) for n in names}}


@pytest.fixture(scope="module")
def probe_server(module_server):
    """The default plugins plus api_probe, shared by a test module."""
    return module_server(with_fixture_plugins("api_probe"))

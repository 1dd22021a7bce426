"""Fixtures: a fresh PostgreSQL database per test, and a TCP proxy in front of PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.postgres import Database
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
async def database():
    """A uniquely named, empty database on 127.0.0.1:5432, dropped after the test."""
    db = await Database().create()
    yield db
    await db.drop()


@pytest.fixture
def pg_proxy():
    """A proxy to 127.0.0.1:5432 the test can stall or reset (the machine's PostgreSQL keeps running)."""
    proxy = TcpProxy(5432).start()
    yield proxy
    proxy.close()

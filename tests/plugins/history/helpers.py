"""Helpers for the history and archive tests: configs, /healthz, waiting, numbered messages."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

# The rate limiter would refuse a test that posts 100 messages a second from one connection.
FAST = {"server": {"rate_limit": {"messages_per_second": 100000.0, "burst": 100000, "disconnect_after": 0}}}


def on_redis(redis, **options) -> dict:
    return {"backplane": {"kind": "redis", "redis": {"url": redis.url, **options}}}


def with_history(**options) -> dict:
    return {"plugins": {"history": {"enabled": True, **options}}}


def with_archive(dsn: str, **options) -> dict:
    return {"plugins": {"archive": {"enabled": True, "dsn": dsn, **options}}}


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


async def fetch(url: str) -> tuple[int, dict]:
    return await asyncio.to_thread(get_json, url)


async def health(server) -> dict:
    return (await fetch(server.url + "/healthz"))[1]


async def eventually(check, timeout: float = 10.0, interval: float = 0.1):
    """check() (sync or async) until it returns something truthy; that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


def events_in_order(client, names: set[str]) -> list[tuple[str, list]]:
    """The client's received events of the given names, in arrival order."""
    return [(name, args) for name, args in client.inbox._events if name in names]

"""The tutorial's .env (REDIS_HOST and REDIS_PORT only) gives one chat across processes, not one each."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest


# Like a fresh clone's config.yaml: no backplane.kind.
NO_KIND = {"backplane": None}


def tutorial_env(redis_server) -> dict:
    return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}


def backplane_of(proc) -> dict:
    try:
        with urllib.request.urlopen(proc.url + "/healthz", timeout=5) as resp:
            return json.load(resp)["backplane"]
    except urllib.error.HTTPError as exc:  # 503 until the backplane is connected
        return json.load(exc)["backplane"]


async def test_redis_host_and_port_choose_the_redis_backplane(start_server, redis_server, clients):
    a = start_server(NO_KIND, env=tutorial_env(redis_server), name="a")
    b = start_server(NO_KIND, env=tutorial_env(redis_server), name="b")
    for proc in (a, b):
        assert "(backplane: redis," in proc.logs()
        deadline = time.monotonic() + 10
        while not backplane_of(proc)["connected"]:  # 503 until it reached Redis
            assert time.monotonic() < deadline, proc.logs()
            time.sleep(0.05)
        assert backplane_of(proc)["kind"] == "redis"
    alice = await clients.python(a.url)
    bob = await clients.python(b.url)
    await alice.call("broadcast", "one chat")
    assert await bob.expect("receiveAll") == ["one chat"]


async def test_redis_url_chooses_the_redis_backplane(start_server, redis_server):
    proc = start_server(NO_KIND, env={"REDIS_URL": redis_server.url})
    assert backplane_of(proc)["kind"] == "redis"


async def test_explicit_memory_warns_that_the_redis_settings_are_unused(start_server, redis_server):
    proc = start_server({"backplane": {"kind": "memory"}}, env=tutorial_env(redis_server))
    assert backplane_of(proc)["kind"] == "memory"
    logs = proc.logs()
    assert "WARNING" in logs
    assert ("REDIS_HOST (environment), REDIS_PORT (environment): unused: backplane.kind is 'memory' "
            f"({proc.config_path} line 2)") in logs


async def test_no_redis_settings_keep_the_memory_backplane(start_server):
    proc = start_server(NO_KIND)
    assert backplane_of(proc)["kind"] == "memory"
    assert "unused" not in proc.logs()

"""`server.workers: 2` with the tutorial's own page (`io.connect('/')`, default transports)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FIXTURE_PLUGINS = str(Path(__file__).parent / "fixture_plugins")


def health_pid(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            return json.load(resp)["pid"]
    except (OSError, ValueError):
        return None


@pytest.fixture
def two_workers(start_server, redis_server, pages):
    web = start_server({"server": {"workers": 2}, "plugin_dirs": [FIXTURE_PLUGINS],
                        "plugins": {"tutorial_page": {}},  # /tutorial.html, the Node tutorial's page
                        "backplane": {"kind": "redis", "redis": {"url": redis_server.url}}})
    pids, deadline = set(), time.monotonic() + 30
    while len(pids) < 2:  # each new connection lands on either worker; both must be up
        assert time.monotonic() < deadline, "both workers never answered"
        pid = health_pid(web.url)
        if pid:
            pids.add(pid)
    pages.allow_server(web.url)
    return web


def open_tutorial(pages, url: str):
    page = pages.open(url + "/tutorial.html", wait_connected=False)
    expect(page).to_have_title("connected")
    return page


def test_tutorial_page_works_against_two_workers(two_workers, pages):
    tabs = [open_tutorial(pages, two_workers.url) for _ in range(4)]
    tabs[0].evaluate("socket.emit('broadcast', 'over two workers')")
    for tab in tabs:
        expect(tab.locator("#log li")).to_have_text(["over two workers"])
    polled = [u for u in pages.watch.requests if "transport=polling" in u]
    assert not polled, polled
    assert "Invalid session" not in two_workers.logs()


def test_a_polling_handshake_is_refused_with_the_reason(two_workers):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(two_workers.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert info.value.code == 400
    body = json.load(info.value)
    assert body["message"].startswith("long-polling is not available: this server runs 2 worker processes")
    deadline = time.monotonic() + 5
    while "refused 1 long-polling handshake(s)" not in two_workers.logs():
        assert time.monotonic() < deadline, two_workers.logs()
        time.sleep(0.1)

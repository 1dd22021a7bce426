"""history and archive in a real browser: the room's past shown after entering, and "load earlier messages"."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, send
from tests.plugins.history.helpers import FAST, get_json, with_archive, with_history
from tests.support.clients import Clients
from tests.support.postgres import Database
from tests.support.server import merge

pytestmark = pytest.mark.browser

HISTORY = "#chatHistory li[data-history=true]"


def run_async(make_coro):
    """Run a coroutine to the end in its own thread (Playwright's sync API owns this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


@pytest.fixture
def database():
    db = run_async(lambda: Database().create())
    yield db
    run_async(db.drop)


def seed(url: str, room: str, count: int) -> None:
    """A python client posts count numbered messages to room and one to everybody."""
    async def run():
        clients = Clients()
        try:
            alice = await clients.python(url)
            assert (await alice.call("entry", room, "alice"))["ok"]
            for i in range(count):
                assert (await alice.call("groupmsg", room, {"nickName": "alice", "msg": f"old {i}"}))["ok"]
            assert (await alice.call("broadcast", {"nickName": "alice", "msg": "hello everybody"}))["ok"]
        finally:
            await clients.close_all()
    run_async(run)


def wait_archived(url: str, room: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = get_json(f"{url}/api/rooms/{urllib.request.quote(room)}/messages?limit=200")
        if status == 200 and len(body["messages"]) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the archive did not get {count} messages of {room}")


def test_history_after_entering_and_load_earlier(start_server, pages, database):
    server = start_server(merge(merge(FAST, with_history(max_messages=20)), with_archive(database.dsn)))
    pages.allow_server(server.url)
    seed(server.url, "hist", 30)
    wait_archived(server.url, "hist", 30)

    page = pages.open(server.url + "/groupchat", "carol")
    enter_room(page, "hist")
    expect(page.locator(f"{HISTORY} .text")).to_have_text([f"old {i}" for i in range(10, 30)])
    expect(page.locator(f"{HISTORY} .nick").first).to_have_text("alice")
    send(page, "live one")
    expect(page.locator("#chatHistory li[data-kind=message] .text").last).to_have_text("live one")

    button = page.locator("button.load-earlier")
    button.click()
    expect(page.locator(f"{HISTORY} .text")).to_have_text([f"old {i}" for i in range(30)])
    expect(button).to_have_text("No earlier messages")
    expect(button).to_be_disabled()
    # The earlier ones went above the history, the live message stays last.
    expect(page.locator("#chatHistory li[data-kind=message] .text").last).to_have_text("live one")
    pages.screenshot(page, "history-groupchat")

    chat = pages.open(server.url + "/chat", "dave")
    expect(chat.locator(f"{HISTORY} .text")).to_have_text(["hello everybody"])
    pages.screenshot(chat, "history-chat")

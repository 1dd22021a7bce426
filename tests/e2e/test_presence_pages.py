"""The group chat page with presence, typing and moderation on: member list, "X is typing…", moderation notices."""

from __future__ import annotations

import asyncio
import threading

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, errors, notices, send, send_refused
from tests.support.clients import PyClient

pytestmark = pytest.mark.browser


@pytest.fixture
def web(start_server, pages):
    server = start_server({"plugins": {"presence": {"enabled": True}, "typing": {"enabled": True}}})
    pages.allow_server(server.url)
    return server


def members(page):
    return page.locator("#memberList li .member-name")


def test_member_list_and_typing_appear_in_the_other_tab(web, pages):
    alice = pages.open(web.url + "/groupchat", "alice")
    enter_room(alice, "den")
    expect(members(alice)).to_have_text(["alice"])
    bob = pages.open(web.url + "/groupchat", "bob")
    enter_room(bob, "den")
    for page in (alice, bob):
        expect(members(page)).to_have_text(["alice", "bob"])
        expect(page.locator("#memberCount")).to_have_text("(2)")

    bob.locator("#message").press_sequentially("hel")
    expect(alice.locator("#typing")).to_have_text("bob is typing…")
    expect(bob.locator("#typing")).to_have_text("")  # nobody else is typing
    pages.screenshot(alice, "groupchat-members-typing")
    send(bob, "hello")
    expect(alice.locator("#typing")).to_have_text("")

    bob.close()
    expect(members(alice)).to_have_text(["alice"])
    expect(notices(alice).last).to_have_text("bob left the room")  # group_chat's notice, once
    expect(notices(alice).filter(has_text="bob left")).to_have_count(1)


def test_two_tabs_with_one_nickname_are_one_member(web, pages):
    first = pages.open(web.url + "/groupchat", "alice")
    enter_room(first, "den")
    second = pages.open(web.url + "/groupchat", "alice")
    enter_room(second, "den")
    watcher = pages.open(web.url + "/groupchat", "bob")
    enter_room(watcher, "den")
    expect(members(watcher)).to_have_text(["alice", "bob"])
    expect(watcher.locator("#memberList li[data-nick=alice] .member-count")).to_have_text("×2")
    expect(watcher.locator("#memberCount")).to_have_text("(2)")
    second.close()
    expect(watcher.locator("#memberList li[data-nick=alice] .member-count")).to_have_count(0)
    expect(members(watcher)).to_have_text(["alice", "bob"])


def test_names_are_shown_as_text(web, pages):
    mallory = pages.open(web.url + "/groupchat", "<img src=x onerror=alert(1)>")
    enter_room(mallory, "den")
    watcher = pages.open(web.url + "/groupchat", "bob")
    enter_room(watcher, "den")
    expect(members(watcher)).to_have_text(["<img src=x onerror=alert(1)>", "bob"])
    expect(watcher.locator("#members img")).to_have_count(0)
    mallory.locator("#message").press_sequentially("x")
    expect(watcher.locator("#typing")).to_have_text("<img src=x onerror=alert(1)> is typing…")
    expect(watcher.locator("#typing img")).to_have_count(0)


class Moderator:
    """A python-socketio client on its own event loop thread, driven from the (sync) browser test."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = self._run(PyClient(url).connect())

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def call(self, *args):
        return self._run(self.client.call(*args))

    def close(self) -> None:
        self._run(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def moderated(start_server, pages):
    server = start_server({"plugins": {"presence": {"enabled": True}, "moderation": {
        "enabled": True, "moderator_tokens": ["moderator-secret-1"], "blocked_words": ["darn"]}}})
    pages.allow_server(server.url)
    return server


def test_moderation_notices_and_refusals_on_the_page(moderated, pages):
    alice = pages.open(moderated.url + "/groupchat", "alice")
    enter_room(alice, "den")
    send_refused(alice, "oh darn")  # the text stays in the box until an ack says ok
    expect(errors(alice).last).to_have_text("message refused: it contains a blocked word")
    mod = Moderator(moderated.url)
    try:
        assert mod.call("entry", "den", "mod")["ok"]
        expect(members(alice)).to_have_text(["alice", "mod"])
        assert mod.call("mute", "den", "alice", 60, "moderator-secret-1")["ok"]
        expect(notices(alice).last).to_have_text("alice was muted by a moderator for 60 s")
        send_refused(alice, "hello?")
        expect(errors(alice).last).to_contain_text("you were muted in room 'den' by a moderator")
        assert mod.call("unmute", "den", "alice", "moderator-secret-1") == {"ok": True, "removed": True}
        expect(notices(alice).last).to_have_text("alice may talk again")
    finally:
        mod.close()

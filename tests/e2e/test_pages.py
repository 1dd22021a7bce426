"""The served pages in a real browser: /, /chat and /groupchat against one shared server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, errors, messages, nicks, notices, send, texts

pytestmark = pytest.mark.browser


@pytest.fixture
def web(server, pages):
    """The module's server, allowed for the pages of the test."""
    pages.allow_server(server.url)
    return server


def test_index_links_every_page(web, pages):
    page = pages.open(web.url + "/", wait_connected=False)
    expect(page.locator("#pages a.page")).to_have_text(["Everybody chat", "Group chat"])
    expect(page.locator("#pages a.standalone")).to_have_count(2)
    pages.screenshot(page, "index")


def test_chat_two_users_see_both_messages_in_order(web, pages):
    alice = pages.open(web.url + "/chat", "alice")
    bob = pages.open(web.url + "/chat", "bob")
    expect(alice.locator("#chatHistory")).to_have_attribute("data-empty", "No messages yet")

    send(alice, "hello from alice")
    expect(texts(bob)).to_have_text(["hello from alice"])  # bob has it before he answers
    send(bob, "hi from bob", click=True)

    for page in (alice, bob):
        expect(texts(page)).to_have_text(["hello from alice", "hi from bob"])
        expect(nicks(page)).to_have_text(["alice", "bob"])
        expect(messages(page).locator("time")).to_have_count(2)
    # Each page marks its own message, and only that one.
    expect(messages(alice).nth(0)).to_have_attribute("data-own", "true")
    expect(messages(alice).nth(1)).not_to_have_attribute("data-own", "true")
    expect(messages(bob).nth(0)).not_to_have_attribute("data-own", "true")
    expect(messages(bob).nth(1)).to_have_attribute("data-own", "true")
    expect(alice.locator("#message")).to_be_focused()
    pages.screenshot(alice, "chat")


def test_chat_history_follows_new_messages(web, pages):
    alice = pages.open(web.url + "/chat", "alice")
    bob = pages.open(web.url + "/chat", "bob")
    for i in range(15):
        send(alice, f"line {i}")
    expect(texts(bob)).to_have_count(15)
    expect(messages(alice).last).to_be_in_viewport()
    expect(messages(bob).last).to_be_in_viewport()
    expect(messages(bob).first).not_to_be_in_viewport()


def test_html_in_messages_is_shown_as_text(web, pages):
    alice = pages.open(web.url + "/chat", '<b id="nick">alice</b>')
    bob = pages.open(web.url + "/chat", "bob")
    img = '<img src=x onerror="window.__xss=1">'
    script = "<script>window.__xss=2</script>"
    send(alice, img)
    send(alice, script)
    for page in (alice, bob):
        expect(texts(page)).to_have_text([img, script])
        expect(nicks(page)).to_have_text(['<b id="nick">alice</b>'] * 2)
        expect(page.locator("#chatHistory img, #chatHistory script, #chatHistory b")).to_have_count(0)
        assert page.evaluate("typeof window.__xss") == "undefined"
    pages.screenshot(bob, "chat-html-as-text")


def test_groupchat_messages_reach_only_the_room(web, pages):
    alice = pages.open(web.url + "/groupchat", "alice")
    bob = pages.open(web.url + "/groupchat", "bob")
    carol = pages.open(web.url + "/groupchat", "carol")
    expect(alice.locator("#roomName")).to_have_text("not in a room")

    enter_room(alice, "room1")
    expect(notices(alice)).to_have_text(["You entered room room1 as alice"])
    enter_room(bob, "room1")
    expect(notices(bob)).to_have_text(["You entered room room1 as bob"])
    expect(notices(alice)).to_have_text(["You entered room room1 as alice", "bob entered the room"])
    enter_room(carol, "room2")
    expect(notices(carol)).to_have_text(["You entered room room2 as carol"])
    expect(alice.locator("#roomName")).to_have_text("room: room1")

    send(alice, "for room1 from alice")
    expect(texts(alice)).to_have_text(["for room1 from alice"])
    send(bob, "for room1 from bob")
    send(carol, "for room2 from carol")

    room1 = ["for room1 from alice", "for room1 from bob"]
    for page in (alice, bob):
        expect(texts(page)).to_have_text(room1)
        expect(nicks(page)).to_have_text(["alice", "bob"])
    # Carol's own message came back after alice's and bob's were fanned out: she got none of them.
    expect(texts(carol)).to_have_text(["for room2 from carol"])
    expect(messages(carol).first).to_have_attribute("data-own", "true")
    # Nobody else entered room2, and carol's entry was not announced in room1.
    expect(notices(carol)).to_have_count(1)
    expect(notices(alice)).to_have_count(2)
    expect(notices(bob)).to_have_count(1)
    pages.screenshot(alice, "groupchat")


def test_groupchat_failures_are_shown_inline(web, pages):
    page = pages.open(web.url + "/groupchat", "dave")

    # Sending before entering a room: refused, and the text stays in the box.
    page.locator("#message").fill("too early")
    page.locator("#message").press("Enter")
    expect(errors(page)).to_have_text(["Enter a room before sending."])
    expect(page.locator("#message")).to_have_value("too early")

    # The server refuses an over-long room name; the answer is shown, the page stays out of rooms.
    # (maxlength is lifted: a saved page may be older than the server's limit.)
    page.locator("#roomid").evaluate("el => el.removeAttribute('maxlength')")
    page.locator("#roomid").fill("r" * 100)
    page.locator("#roomid").press("Enter")
    expect(errors(page)).to_have_count(2)
    expect(errors(page).nth(1)).to_contain_text("roomId is too long (100 characters, at most 64)")
    expect(page.locator("#roomName")).to_have_text("not in a room")
    expect(page.locator("#chatHistory li[data-kind=error]").nth(1)).to_have_attribute("role", "alert")

    # After a good entry the kept text can be sent.
    enter_room(page, "room3")
    page.locator("#message").press("Enter")
    expect(texts(page)).to_have_text(["too early"])
    pages.screenshot(page, "groupchat-errors")


def test_nickname_changed_in_a_room_is_announced(web, pages):
    alice = pages.open(web.url + "/groupchat", "alice")
    bob = pages.open(web.url + "/groupchat", "bob")
    enter_room(alice, "renames")
    enter_room(bob, "renames")
    bob.locator("#nickname").fill("robert")
    bob.locator("#nickname").blur()  # the field's change event
    expect(notices(alice).last).to_have_text("bob is now robert")
    send(bob, "new name")
    expect(nicks(alice)).to_have_text(["robert"])


def test_both_pages_limit_nicknames_alike(web, pages):
    # One nickname is remembered for both pages: the same limit on both (group_chat's).
    chat = pages.open(web.url + "/chat", "x")
    group = pages.open(web.url + "/groupchat", "x")
    expect(chat.locator("#nickname")).to_have_attribute("maxlength", "32")
    expect(group.locator("#nickname")).to_have_attribute("maxlength", "32")

"""Pages survive a server restart on the same port: "disconnected", then connected and chatting."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, errors, expect_state, notices, send, texts

pytestmark = pytest.mark.browser

# Socket.IO retries with a growing delay (1 s, 2 s, 4 s, at most 5 s, ±50 %).
RECONNECT_TIMEOUT = 20_000


def test_pages_reconnect_after_a_restart(start_server, pages):
    srv = start_server()
    pages.allow_server(srv.url)
    chat = pages.open(srv.url + "/chat", "alice")
    group = pages.open(srv.url + "/groupchat", "bob")
    enter_room(group, "lobby")
    send(chat, "before the restart")
    expect(texts(chat)).to_have_text(["before the restart"])

    with pages.server_down():
        srv.stop()
        for page in (chat, group):
            expect_state(page, "disconnected")
            expect(notices(page).last).to_have_text("Connection lost; reconnecting…")
        # Sending now is refused on the page, and the text is kept for later.
        chat.locator("#message").fill("kept for later")
        chat.locator("#message").press("Enter")
        expect(errors(chat)).to_have_text(["Not connected to the server: broadcast not sent."])
        expect(chat.locator("#message")).to_have_value("kept for later")
        pages.screenshot(chat, "chat-disconnected")

        srv.start()  # same port
        for page in (chat, group):
            expect_state(page, "connected", timeout=RECONNECT_TIMEOUT)
            expect(notices(page).filter(has_text="Reconnected.")).to_have_count(1)

    # The group page entered its room again by itself.
    expect(notices(group).last).to_have_text("You entered room lobby as bob")
    expect(group.locator("#roomName")).to_have_attribute("data-room", "lobby")

    # Chat works again, with a newcomer too.
    newcomer = pages.open(srv.url + "/chat", "carol")
    chat.locator("#btnSend").click()
    expect(chat.locator("#message")).to_have_value("")
    expect(texts(newcomer)).to_have_text(["kept for later"])
    send(newcomer, "welcome back")
    expect(texts(chat)).to_have_text(["before the restart", "kept for later", "welcome back"])

    peer = pages.open(srv.url + "/groupchat", "dave")
    enter_room(peer, "lobby")
    expect(notices(group).last).to_have_text("dave entered the room")
    send(peer, "the room works")
    expect(texts(group)).to_have_text(["the room works"])
    pages.screenshot(chat, "chat-reconnected")

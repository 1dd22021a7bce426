"""The standalone pages, saved from the index and opened from file://, chat with served pages."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, errors, expect_state, nicks, notices, send, texts
from tests.support.server import free_port

pytestmark = pytest.mark.browser

TRANSPORTS = {
    "polling+websocket": None,  # the default: [polling, websocket]
    "websocket-only": ["websocket"],
}


def save_standalone_pages(pages, url: str, folder: Path) -> dict[str, str]:
    """Click each 'standalone page' link of the index; returns {plugin: file:// URL of the saved page}."""
    index = pages.open(url + "/", wait_connected=False)
    saved = {}
    for plugin in ("global_chat", "group_chat"):
        with index.expect_download() as info:
            index.locator(f"#pages li[data-plugin={plugin}] a.standalone").click()
        path = folder / info.value.suggested_filename
        info.value.save_as(path)
        saved[plugin] = path.as_uri()
    index.close()
    return saved


@pytest.mark.parametrize("transports", list(TRANSPORTS))
def test_standalone_pages_talk_to_served_pages(transports, start_server, pages, tmp_path):
    # public_url is the server's own address, so that the saved pages find it.
    port = free_port()
    overrides = {"server": {"public_url": f"http://127.0.0.1:{port}"}}
    if TRANSPORTS[transports]:
        overrides["server"]["transports"] = TRANSPORTS[transports]
    web = start_server(overrides=overrides, port=port)
    pages.allow_server(web.url)
    saved = save_standalone_pages(pages, web.url, tmp_path)
    assert saved["global_chat"].endswith("/chat.html")
    assert saved["group_chat"].endswith("/groupchat.html")

    # Everybody chat: the saved page and a served page see each other's messages.
    file_chat = pages.open(saved["global_chat"], "filey")
    web_chat = pages.open(web.url + "/chat", "webby")
    expect(file_chat.locator(".server")).to_have_text(f"server: {web.url}")
    send(file_chat, "from the file")
    expect(texts(web_chat)).to_have_text(["from the file"])
    send(web_chat, "from the web")
    for page in (file_chat, web_chat):
        expect(texts(page)).to_have_text(["from the file", "from the web"])
        expect(nicks(page)).to_have_text(["filey", "webby"])
    pages.screenshot(file_chat, f"chat-standalone-{transports}")

    # Group chat: the same, in a room.
    file_group = pages.open(saved["group_chat"], "filey")
    web_group = pages.open(web.url + "/groupchat", "webby")
    enter_room(file_group, "lobby")
    enter_room(web_group, "lobby")
    expect(notices(file_group)).to_have_text(["You entered room lobby as filey", "webby entered the room"])
    send(web_group, "hello file")
    expect(texts(file_group)).to_have_text(["hello file"])
    send(file_group, "hello web")
    for page in (file_group, web_group):
        expect(texts(page)).to_have_text(["hello file", "hello web"])
        expect(nicks(page)).to_have_text(["webby", "filey"])
    pages.screenshot(file_group, f"groupchat-standalone-{transports}")

    asked = pages.watch.requests
    assert any(u.startswith("ws://") and "transport=websocket" in u for u in asked)
    if transports == "websocket-only":
        polled = [u for u in asked if "transport=polling" in u]
        assert not polled, f"websocket-only server, yet the pages polled: {polled}"


def test_standalone_page_refused_by_origin_says_so(start_server, pages, tmp_path):
    # Without "null" among the allowed origins, pages opened from file:// are locked out.
    port = free_port()
    web = start_server(overrides={"server": {"public_url": f"http://127.0.0.1:{port}",
                                             "cors_allowed_origins": []}}, port=port)
    pages.allow_server(web.url)
    path = tmp_path / "chat.html"
    path.write_bytes(urllib.request.urlopen(web.url + "/chat.html", timeout=5).read())
    with pages.expected_console_errors(r"CORS policy|ERR_FAILED|WebSocket connection to .* failed"):
        page = pages.open(path.as_uri(), "filey", wait_connected=False)
        # One line, kept up to date with the client's own attempts (not one line per attempt).
        expect(errors(page)).to_have_text([re.compile(
            rf"Cannot reach the chat server at {re.escape(web.url)}; trying again \(attempt [2-9]\d*\)…")])
        expect_state(page, "disconnected")
        pages.screenshot(page, "chat-standalone-refused")
        page.context.close()  # stop its retries while their errors are still expected
    assert "refused connection from origin 'null'" in web.logs()


def test_page_saved_without_public_url_talks_to_the_server_it_came_from(start_server, pages, tmp_path):
    # No public_url: the copy points at the scheme, host and port it was downloaded from, here
    # "localhost" and a port that is not 3000 (and no server runs on 3000).
    web = start_server()
    site = f"http://localhost:{web.port}"
    pages.allow_server(site)
    saved = save_standalone_pages(pages, site, tmp_path)
    file_chat = pages.open(saved["global_chat"], "filey")
    expect(file_chat.locator(".server")).to_have_text(f"server: {site}")
    web_chat = pages.open(site + "/chat", "webby")
    send(file_chat, "saved and still here")
    expect(texts(web_chat)).to_have_text(["saved and still here"])
    assert not [u for u in pages.watch.requests if ":3000" in u]

"""A refused message stays in the input box until the server takes it; rate limiting is said once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import errors, send, texts

pytestmark = pytest.mark.browser

RATE = re.compile(r"Sending too fast: wait \d+\.\d s, then send again \(your text is still in the box\)\.")


def press_send(page, text: str) -> None:
    box = page.locator("#message")
    box.fill(text)
    box.press("Enter")


def test_oversized_message_stays_in_the_box(start_server, pages):
    web = start_server({"server": {"max_message_size": 1024}})
    pages.allow_server(web.url)
    page = pages.open(web.url + "/chat", "big")
    too_big = "x" * 2000
    press_send(page, too_big)
    expect(errors(page)).to_have_count(1)
    expect(errors(page).first).to_contain_text("too large")
    expect(page.locator("#message")).to_have_value(too_big)
    expect(texts(page)).to_have_count(0)
    send(page, "small enough")  # the box empties once the ack says ok
    expect(texts(page)).to_have_text(["small enough"])


def test_rate_limited_message_is_kept_and_said_once(start_server, pages):
    web = start_server({"server": {"rate_limit": {"messages_per_second": 0.5, "burst": 2,
                                                  "disconnect_after": 0}}})
    pages.allow_server(web.url)
    page = pages.open(web.url + "/chat", "fast")
    send(page, "one")
    send(page, "two")
    box = page.locator("#message")
    for attempt in range(6):  # the user keeps pressing Enter
        press_send(page, "three")
        expect(errors(page)).to_have_text([RATE])
        expect(box).to_have_value("three")
    for _ in range(40):  # resend until the bucket has a token again (2 s at 0.5 messages/s)
        page.wait_for_timeout(250)
        box.press("Enter")
        if box.input_value() == "":
            break
    expect(box).to_have_value("")
    expect(texts(page)).to_have_text(["one", "two", "three"])
    expect(errors(page)).to_have_count(1)

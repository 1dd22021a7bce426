"""A refused connection shows the server's reason; the page retries only what can succeed."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import errors, expect_state

pytestmark = pytest.mark.browser

REFUSED_CAP = re.compile(r"The server refused the connection: too many connections from your address "
                         r"\(at most 2\)\. Trying again in \d+ s\.")


# A refused client closes its Engine.IO session at once; a long-poll still in flight on it may
# then get Engine.IO's 400 "Session ID unknown", which Chromium logs as a console error.
LATE_POLL = r"status of 400 \(Bad Request\)"


def handshakes(pages) -> int:
    """New Engine.IO sessions the pages asked for (requests without a sid)."""
    return sum(1 for u in pages.watch.requests if "/socket.io/?" in u and "sid=" not in u)


def test_address_cap_refusal_is_shown_and_retried_until_it_passes(start_server, pages):
    web = start_server({"server": {"max_connections_per_address": 2}})
    pages.allow_server(web.url)
    first = pages.open(web.url + "/chat", "one")
    pages.open(web.url + "/chat", "two")
    with pages.expected_console_errors(LATE_POLL):
        third = pages.open(web.url + "/chat", "three", wait_connected=False)
        expect(errors(third)).to_have_text([REFUSED_CAP])
        expect_state(third, "disconnected")
        pages.screenshot(third, "chat-refused-by-cap")
        first.context.close()  # a place frees up: the waiting page gets in by itself
        expect_state(third, "connected", timeout=40_000)
    # Said once (kept up to date), not once per attempt; never "cannot reach".
    expect(errors(third)).to_have_count(1)
    expect(third.locator("#chatHistory")).not_to_contain_text("Cannot reach")


def test_refused_token_is_shown_and_not_retried(start_server, pages):
    web = start_server({"plugins": {"token_auth": {"enabled": True, "tokens": ["s3cret"]}}})
    pages.allow_server(web.url)
    with pages.expected_console_errors(LATE_POLL):  # as in the test above
        page = pages.open(web.url + "/chat", "nobody", wait_connected=False)
        expect(errors(page)).to_have_text([
            "The server refused the connection: authentication failed: missing or invalid token. "
            "Not retrying: this cannot succeed as it is; reload the page after fixing it."])
        expect_state(page, "disconnected")
        asked = handshakes(pages)
        time.sleep(3)  # longer than the first back-off a retry would use
    assert handshakes(pages) == asked, "the page kept trying a refusal that cannot pass"
    expect(errors(page)).to_have_count(1)

"""ctx.extend_page in a real browser: a plugin kept outside the repo adds a member list to /groupchat."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.core.api.example_plugin import write_plugin
from tests.e2e.ui import enter_room

pytestmark = pytest.mark.browser


def test_a_plugin_adds_its_member_list_to_the_group_chat_page(start_server, pages, tmp_path):
    write_plugin(tmp_path / "plugins" / "members")
    server = start_server({"plugin_dirs": [str(tmp_path / "plugins")], "plugins": {"members": {}}})
    pages.allow_server(server.url)
    alice = pages.open(server.url + "/groupchat", "alice")
    enter_room(alice, "den")
    expect(alice.locator("#members")).to_have_text("In den: alice")
    bob = pages.open(server.url + "/groupchat", "bob")
    enter_room(bob, "den")
    for page in (alice, bob):
        expect(page.locator("#members")).to_have_text("In den: alice, bob")
    pages.screenshot(bob, "groupchat-extended-by-members")
    assert server.url + "/plugins/members/static/members.js" in pages.watch.requests

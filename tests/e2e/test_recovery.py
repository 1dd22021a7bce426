"""The group chat page after a short drop: same room, history kept, missed messages delivered, no re-entry."""

from __future__ import annotations

import asyncio
import threading

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import enter_room, expect_state, notices, send, texts
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.browser


class ThreadedProxy:
    """tests.support.tcpproxy.TcpProxy on an event loop of its own (the browser tests are sync)."""

    def __init__(self, target: int):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = asyncio.run_coroutine_threadsafe(TcpProxy(target).start(), self.loop).result(5)
        self.url = self.proxy.url

    def point_at(self, target: int | None) -> None:
        self.loop.call_soon_threadsafe(setattr, self.proxy, "target", target)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_group_page_recovers_after_a_short_drop(start_server, pages):
    srv = start_server()
    proxy = ThreadedProxy(srv.port)
    try:
        pages.allow_server(proxy.url)
        pages.allow_server(srv.url)
        ann = pages.open(proxy.url + "/groupchat", "ann")
        enter_room(ann, "lobby")
        ben = pages.open(srv.url + "/groupchat", "ben")
        enter_room(ben, "lobby")
        send(ben, "before the drop")
        expect(texts(ann)).to_have_text(["before the drop"])

        with pages.server_down():
            proxy.point_at(None)  # ann's reconnects are refused until the gap ends
            ann.evaluate("chat.socket().io.engine.close()")  # the network drops
            expect_state(ann, "disconnected")
            expect(notices(ben).last).to_have_text("ann left the room (connection lost, may be back soon)")
            send(ben, "while you were away")
            send(ben, "and this too")
            proxy.point_at(srv.port)
            expect_state(ann, "connected", timeout=20_000)

        expect(notices(ann).filter(has_text="Reconnected.")).to_have_count(1)
        expect(notices(ann).filter(has_text="2 missed messages delivered.")).to_have_count(1)
        # History kept, the missed messages after it, and the page did not enter the room again.
        expect(texts(ann)).to_have_text(["before the drop", "while you were away", "and this too"])
        expect(notices(ann).filter(has_text="You entered room lobby as ann")).to_have_count(1)
        expect(notices(ben).last).to_have_text("ann is back")
        expect(notices(ben).filter(has_text="ann entered the room")).to_have_count(0)  # not again
        send(ann, "I am back")
        expect(texts(ben)).to_have_text(["before the drop", "while you were away", "and this too", "I am back"])
    finally:
        proxy.close()

"""Helpers for the plugin wire tests: client kinds, acks, log checks, settling, /chatlog."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import urllib.request

from tests.support.raw import LogMark

# Every client kind the contract runs with: <client>-<transport>.
KINDS = ("python-websocket", "js-websocket", "js-polling")

OK = {"ok": True}

# A test server whose message limit is small enough to exceed without hitting the transport's.
SMALL_MESSAGE_SIZE = 2048

_markers = itertools.count(1)
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def refused(reason: str) -> dict:
    """The ack of a refused request."""
    return {"ok": False, "error": reason}


async def open_client(clients, url: str, kind: str):
    """Connect a client of `kind` (one of KINDS)."""
    client, transport = kind.split("-")
    make = clients.python if client == "python" else clients.js
    return await make(url, transports=[transport])


async def settle(sender, *others) -> None:
    """Wait until everything the server sent so far has reached sender and others.

    The server sends to each client in order, so once a marker broadcast sent now has
    arrived, any earlier event meant for that client has arrived too.
    """
    marker = f"settle-{next(_markers)}"
    assert await sender.call("broadcast", marker) == OK
    for client in (sender, *others):
        while await client.expect("receiveAll") != [marker]:
            pass


class ServerLog(LogMark):
    """The part of a server's log written after this object was made, with the chat's checks."""

    def refused_lines(self, event: str) -> list[str]:
        return [line for line in self.new().splitlines() if f" refused {event} from " in line]

    def assert_clean(self) -> None:
        """No traceback, and every entry on one line."""
        text = self.new()
        assert "Traceback" not in text, text
        assert all(_LOG_LINE.match(line) for line in text.splitlines()), text

    def assert_refused(self, event: str, reason: str) -> None:
        """Exactly one one-line `refused <event> from ...: <reason>` entry, nothing else wrong."""
        lines = self.refused_lines(event)
        assert len(lines) == 1, self.new()
        assert lines[0].endswith(": " + reason), lines[0]
        self.assert_clean()


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        return json.load(response)


async def chatlog(server, path: str = "/chatlog") -> dict:
    """GET /chatlog (or path) of the server."""
    return await asyncio.to_thread(_get_json, server.url + path)


async def chatlog_when(server, condition, timeout: float = 5.0, path: str = "/chatlog") -> dict:
    """The /chatlog once condition(log) holds (subscribers run after the ack, not before)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        log = await chatlog(server, path)
        if condition(log):
            return log
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/chatlog never matched within {timeout}s: {log!r}")
        await asyncio.sleep(0.02)


def new_room(label: str = "room") -> str:
    """A room name no other test uses (tests share a server; a late leave must not leak in)."""
    return f"{label}-{next(_markers)}"

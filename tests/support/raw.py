"""Raw Engine.IO v4 traffic for the hardening tests: websocket frames and polling requests as sent.

    ws = await RawWebSocket.open(server.url)          # open packet read, namespace "/" joined
    assert await ws.call("broadcast", "hi") == [{"ok": True}]
    await ws.send("42abc")                            # anything, byte for byte
    assert await ws.closed_within(2.0) < 2.0

    async with aiohttp.ClientSession() as http:
        poll = await RawPolling.open(http, server.url)
        await poll.post("42abc")
        assert await poll.closed_within(2.0) < 2.0
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SEPARATOR = "\x1e"  # between packets of one polling payload
_ack_ids = itertools.count(1)


def eio_url(base: str, transport: str = "polling", sid: str | None = None, eio: str = "4") -> str:
    """The Engine.IO endpoint of an http://host:port base URL, for either scheme."""
    url = f"{base}/socket.io/?EIO={eio}&transport={transport}"
    if sid:
        url += f"&sid={sid}"
    if transport == "websocket":
        url = "ws" + url[len("http"):]
    return url


def health(base: str) -> dict:
    """GET /healthz as JSON (also when it answers 503)."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        return json.load(err)


def http_status(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None) -> int:
    """The status of one plain HTTP request (4xx/5xx included)."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll predicate() (sync) until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(interval)


def event_packet(event: str, *args: Any, ack_id: int | None = None) -> str:
    """`42["event",...]` or, with an ack id, `42<id>["event",...]`."""
    return "42" + ("" if ack_id is None else str(ack_id)) + json.dumps([event, *args])


def parse_ack(frame: str, ack_id: int) -> list | None:
    """The arguments of `43<ack_id>[...]`, or None when frame is something else."""
    prefix = f"43{ack_id}"
    if isinstance(frame, str) and frame.startswith(prefix + "["):
        return json.loads(frame[len(prefix):])
    return None


def parse_event(frame: str) -> list | None:
    """`["name", args...]` of a `42[...]` frame, or None."""
    if isinstance(frame, str) and frame.startswith("42["):
        return json.loads(frame[2:])
    return None


class RawWebSocket:
    """One websocket-only Engine.IO session, driven frame by frame; answers server pings itself."""

    opened: list["RawWebSocket"] = []  # every one opened, for close_all() at the end of a test

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        RawWebSocket.opened.append(self)
        self.open_packet: dict = {}
        self.socket_sid: str | None = None
        self.seen: list[str | bytes] = []  # every frame received, pings included

    @classmethod
    async def open(cls, base: str, join: bool = True, headers: dict | None = None,
                   max_size: int | None = 2 ** 24) -> "RawWebSocket":
        ws = await connect(eio_url(base, "websocket"), additional_headers=headers, max_size=max_size,
                           open_timeout=5, ping_interval=None, compression=None)
        raw = cls(ws)
        first = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(first, str) and first.startswith("0{"), first
        raw.open_packet = json.loads(first[1:])
        if join:
            await raw.join()
        return raw

    @property
    def sid(self) -> str:
        return self.open_packet["sid"]

    async def join(self) -> None:
        """Connect to namespace "/" (`40`) and wait for `40{"sid":...}`."""
        await self.ws.send("40")
        frame = await self.recv_matching(lambda f: isinstance(f, str) and f.startswith("40"))
        self.socket_sid = json.loads(frame[2:])["sid"]

    async def send(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self, timeout: float = 5.0) -> str | bytes:
        """The next frame that is not a ping (pings are answered)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic()))
            self.seen.append(frame)
            if frame == "2":
                await self.ws.send("3")
                continue
            return frame

    async def recv_matching(self, match, timeout: float = 5.0) -> str | bytes:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if match(frame):
                return frame

    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> list:
        """Emit with an ack id; the ack's argument list."""
        ack_id = next(_ack_ids)
        await self.ws.send(event_packet(event, *args, ack_id=ack_id))
        frame = await self.recv_matching(lambda f: parse_ack(f, ack_id) is not None, timeout)
        return parse_ack(frame, ack_id)

    async def closed_within(self, timeout: float) -> float:
        """Seconds until the server closed the websocket (frames meanwhile are kept in .seen)."""
        started = time.monotonic()
        try:
            while True:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    raise AssertionError(f"websocket still open after {timeout}s; frames: {self.seen[-5:]!r}")
                try:
                    frame = await asyncio.wait_for(self.ws.recv(), left)
                except asyncio.TimeoutError:
                    continue
                self.seen.append(frame)
        except ConnectionClosed:
            return time.monotonic() - started

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 2)
        except Exception:  # already gone
            pass

    @classmethod
    async def close_all(cls) -> None:
        """Close every raw websocket still open (an autouse fixture calls this after each test)."""
        opened, cls.opened = cls.opened, []
        await asyncio.gather(*(raw.close() for raw in opened), return_exceptions=True)


async def websocket_refused(base: str, headers: dict | None = None, transport: str = "websocket",
                            eio: str = "4") -> int:
    """Try a websocket handshake that should be refused; the HTTP status it got."""
    url = eio_url(base, transport, eio=eio)
    if not url.startswith("ws"):
        url = "ws" + url[len("http"):]
    try:
        ws = await connect(url, additional_headers=headers, open_timeout=5, ping_interval=None)
    except InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    raise AssertionError(f"websocket handshake to {url} was accepted")


class RawPolling:
    """One long-polling Engine.IO session: POST payloads, GET what the server queued."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http = http
        self.base = base
        self.open_packet: dict = {}
        self.socket_sid: str | None = None
        self.seen: list[str] = []  # every packet received

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, base: str, join: bool = True,
                   headers: dict | None = None) -> "RawPolling":
        raw = cls(http, base)
        async with http.get(eio_url(base), headers=headers or {}) as resp:
            body = await resp.text()
            assert resp.status == 200, (resp.status, body)
        assert body.startswith("0{"), body
        raw.open_packet = json.loads(body[1:])
        if join:
            assert await raw.post("40") == 200
            packets = await raw.get()
            assert packets and packets[0].startswith("40{"), packets
            raw.socket_sid = json.loads(packets[0][2:])["sid"]
        return raw

    @property
    def sid(self) -> str:
        return self.open_packet["sid"]

    @property
    def url(self) -> str:
        return eio_url(self.base, "polling", self.sid)

    async def post(self, body: str | bytes, headers: dict | None = None) -> int:
        data = body.encode() if isinstance(body, str) else body
        async with self.http.post(self.url, data=data,
                                  headers={"Content-Type": "text/plain;charset=UTF-8", **(headers or {})}) as resp:
            await resp.read()
            return resp.status

    async def get_raw(self, timeout: float = 10.0) -> tuple[int, str]:
        async with self.http.get(self.url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            return resp.status, await resp.text()

    async def get(self, timeout: float = 10.0) -> list[str]:
        """The packets of one poll, pings answered; [] when the session is gone (400)."""
        status, body = await self.get_raw(timeout)
        if status != 200:
            return []
        packets = body.split(SEPARATOR)
        self.seen.extend(packets)
        if "2" in packets:
            await self.post("3")
        return packets

    async def call(self, event: str, *args: Any, timeout: float = 10.0) -> list:
        ack_id = next(_ack_ids)
        assert await self.post(event_packet(event, *args, ack_id=ack_id)) == 200
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pkt in await self.get(timeout):
                ack = parse_ack(pkt, ack_id)
                if ack is not None:
                    return ack
        raise AssertionError(f"no ack for {event} within {timeout}s; packets: {self.seen[-5:]!r}")

    async def closed_within(self, timeout: float) -> float:
        """Seconds until the session is over: a close packet `1`, or a 400 for the sid."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            left = timeout - (time.monotonic() - started)
            try:
                status, body = await self.get_raw(timeout=max(0.1, left))
            except asyncio.TimeoutError:
                break
            if status == 400:
                return time.monotonic() - started
            packets = body.split(SEPARATOR)
            self.seen.extend(packets)
            if "1" in packets:
                return time.monotonic() - started
            if "2" in packets:
                await self.post("3")
        raise AssertionError(f"polling session still open after {timeout}s; packets: {self.seen[-5:]!r}")


class LogMark:
    """The part of a server's log written after this mark was made."""

    def __init__(self, server):
        self.server = server
        self.start = len(server.logs())

    def new(self) -> str:
        return self.server.logs()[self.start:]

    def lines(self, *needles: str) -> list[str]:
        """New log lines containing every needle."""
        return [line for line in self.new().splitlines() if all(n in line for n in needles)]

    async def wait_for(self, *needles: str, timeout: float = 5.0) -> list[str]:
        """Wait until a new log line contains every needle; all such lines."""
        return await wait_until(lambda: self.lines(*needles), timeout,
                                what=f"log line with {needles!r}")

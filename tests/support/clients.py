"""Chat clients for tests: python-socketio's AsyncClient and the official JS client, one interface.

    alice = await clients.python(server.url)
    bob = await clients.js(server.url, transports=["polling"])
    await alice.call("broadcast", "hi")
    assert await bob.expect("receiveAll") == ["hi"]
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 5.0


class Inbox:
    """Events a client received, consumed in order per event name."""

    def __init__(self):
        self._events: list[tuple[str, list]] = []
        self._cursor: dict[str, int] = {}
        self._changed = asyncio.Event()

    def add(self, event: str, args: list) -> None:
        self._events.append((event, list(args)))
        self._changed.set()

    def all(self, event: str) -> list[list]:
        return [args for name, args in self._events if name == event]

    async def expect(self, event: str, timeout: float = DEFAULT_TIMEOUT) -> list:
        """The next not yet expected `event` (its argument list), waiting up to timeout."""
        async def next_one():
            while True:
                seen = self.all(event)
                index = self._cursor.get(event, 0)
                if index < len(seen):
                    self._cursor[event] = index + 1
                    return seen[index]
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(next_one(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {event!r} within {timeout}s; got {self._events!r}") from None

    async def assert_none(self, event: str, within: float = 0.5) -> None:
        """No further `event` arrives within the given time."""
        await asyncio.sleep(within)
        extra = self.all(event)[self._cursor.get(event, 0):]
        assert not extra, f"unexpected {event!r}: {extra!r}"


class PyClient:
    """python-socketio AsyncClient recording every event."""

    kind = "python"

    def __init__(self, url: str, transports=("websocket",), headers=None, auth=None, http_session=None,
                 namespace: str = "/"):
        self.url = url
        self.namespace = namespace
        self.transports = list(transports)
        self.headers = headers or {}
        self.auth = auth
        self.inbox = Inbox()
        self.sio = socketio.AsyncClient(reconnection=False, http_session=http_session)
        self.sio.on("*", lambda event, *args: self.inbox.add(event, args), namespace=namespace)
        self.sio.on("disconnect", lambda reason=None: self.inbox.add("disconnect", [str(reason)]),
                    namespace=namespace)

    async def connect(self) -> "PyClient":
        await self.sio.connect(self.url, transports=self.transports, headers=self.headers,
                               auth=self.auth, wait_timeout=DEFAULT_TIMEOUT, namespaces=[self.namespace])
        return self

    @property
    def transport(self) -> str:
        return self.sio.transport()

    async def emit(self, event: str, *args) -> None:
        await self.sio.emit(event, args, namespace=self.namespace)

    async def call(self, event: str, *args, timeout: float = DEFAULT_TIMEOUT):
        """Emit with an acknowledgement and return the ack's value."""
        return await self.sio.call(event, args, timeout=timeout, namespace=self.namespace)

    async def expect(self, event: str, timeout: float = DEFAULT_TIMEOUT) -> list:
        return await self.inbox.expect(event, timeout)

    async def assert_none(self, event: str, within: float = 0.5) -> None:
        await self.inbox.assert_none(event, within)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        if self.sio.eio.http is not None and not self.sio.eio.external_http:
            await self.sio.eio.http.close()


def to_wire(value):
    """bytes as {"$bytes": base64} (how tests/support/jsclient.mjs carries binary over its JSON pipe)."""
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value):
    """The inverse of to_wire."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


class JsClient:
    """The official socket.io-client 4.x in a Node process, driven by tests/support/jsclient.mjs."""

    kind = "js"
    _ids = itertools.count(1)

    def __init__(self, url: str, transports=("websocket",), upgrade: bool = True, extra_opts=None):
        self.url = url
        self.opts = {"transports": list(transports), "upgrade": upgrade, **(extra_opts or {})}
        self.inbox = Inbox()
        self.acks: dict[int, asyncio.Future] = {}
        self.proc: asyncio.subprocess.Process | None = None
        self.transport: str | None = None
        self.upgraded_to: str | None = None

    async def connect(self, expect_ok: bool = True) -> "JsClient":
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(ROOT / "tests/support/jsclient.mjs"), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024)  # one JSON line per event: big messages make long lines
        self._reader = asyncio.create_task(self._read())
        await self._send({"op": "connect", "url": self.url, "opts": self.opts})
        if expect_ok:
            await self.inbox.expect("connect", timeout=10)
        return self

    async def _send(self, cmd: dict) -> None:
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def _read(self) -> None:
        async for line in self.proc.stdout:
            msg = from_wire(json.loads(line))
            kind = msg["type"]
            if kind == "event":
                self.inbox.add(msg["event"], msg["args"])
            elif kind == "ack":
                fut = self.acks.pop(msg["id"], None)
                if fut and not fut.done():
                    fut.set_result(msg)
            else:
                if kind == "connect":
                    self.transport = msg["transport"]
                elif kind == "upgrade":
                    self.upgraded_to = self.transport = msg["transport"]
                self.inbox.add(kind, [msg])

    async def emit(self, event: str, *args) -> None:
        await self._send({"op": "emit", "event": event, "args": to_wire(list(args))})

    async def call(self, event: str, *args, timeout: float = DEFAULT_TIMEOUT):
        """Emit with an acknowledgement; the ack's one argument (or the list of several)."""
        values = await self.call_raw(event, *args, timeout=timeout)
        return values[0] if len(values) == 1 else values

    async def call_raw(self, event: str, *args, timeout: float = DEFAULT_TIMEOUT) -> list:
        """Emit with an acknowledgement and return every ack argument as a list."""
        ack_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = fut
        await self._send({"op": "emit", "event": event, "args": to_wire(list(args)), "ack": ack_id})
        msg = await asyncio.wait_for(fut, timeout)
        if msg["error"]:
            raise TimeoutError(f"{event}: {msg['error']}")
        return msg["args"]

    async def expect(self, event: str, timeout: float = DEFAULT_TIMEOUT) -> list:
        return await self.inbox.expect(event, timeout)

    async def assert_none(self, event: str, within: float = 0.5) -> None:
        await self.inbox.assert_none(event, within)

    async def drop(self) -> None:
        """Close the engine's transport (a network drop: the client reconnects if allowed to)."""
        await self._send({"op": "drop"})

    async def disconnect(self) -> None:
        """The client's own socket.disconnect()."""
        await self._send({"op": "disconnect"})

    async def reconnect(self) -> None:
        await self._send({"op": "reconnect"})

    async def close(self) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                await self._send({"op": "close"})
                await asyncio.wait_for(self.proc.wait(), 3)
            except (asyncio.TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()
        if getattr(self, "_reader", None):
            self._reader.cancel()


class Clients:
    """Factory fixture: connects clients and closes them all at the end of the test."""

    def __init__(self):
        self._open: list = []

    async def python(self, url: str, **kwargs) -> PyClient:
        client = PyClient(url, **kwargs)
        self._open.append(client)
        return await client.connect()

    async def js(self, url: str, expect_ok: bool = True, **kwargs) -> JsClient:
        client = JsClient(url, **kwargs)
        self._open.append(client)
        return await client.connect(expect_ok=expect_ok)

    async def close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self._open), return_exceptions=True)

"""A bug in our own code on a websocket closes it with 1011 and logs the traceback; the peer is not blamed.

No client can make the server's own code fail on purpose, so the failing piece is a handler
given to the real SanicWebSocket, over a real TCP connection on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
from types import SimpleNamespace

from multidict import CIMultiDict

from core.sio.driver import UPGRADED, SanicWebSocket
from core.transport.budget import TransportPolicy
from core.transport.direct import DirectWrites


class Accepting(asyncio.Protocol):
    """Server side of the test connection: hands bytes to the websocket once there is one."""

    def __init__(self, accepted: asyncio.Queue):
        self.accepted, self.websocket = accepted, None

    def connection_made(self, transport):
        self.transport = transport
        self.accepted.put_nowait(transport)

    def data_received(self, data):
        if self.websocket is not None:
            self.websocket.data_received(data)

    def connection_lost(self, exc):
        if self.websocket is not None:
            self.websocket.connection_lost(exc)


async def test_an_internal_error_closes_with_1011_and_logs_its_traceback(caplog):
    loop = asyncio.get_running_loop()
    accepted: asyncio.Queue = asyncio.Queue()
    server = await loop.create_server(lambda: Accepting(accepted), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    transport = await accepted.get()
    request = SimpleNamespace(version="1.1", transport=transport, remote_addr="127.0.0.1", ip="127.0.0.1",
                              headers=CIMultiDict({"Upgrade": "websocket", "Connection": "Upgrade",
                                                   "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}))

    async def buggy_handler(ws):
        raise RuntimeError("a bug in the server")

    engine = SimpleNamespace(transport_policy=TransportPolicy(), max_http_buffer_size=1000, direct=DirectWrites())
    with caplog.at_level(logging.ERROR, logger="chat.binding"):
        result = await SanicWebSocket(buggy_handler, engine)({"sanic.request": request, "REMOTE_ADDR": "127.0.0.1"})
    assert result is UPGRADED
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    first, second = await asyncio.wait_for(reader.readexactly(2), 5)
    payload = await reader.readexactly(second & 0x7F)
    assert first == 0x88 and struct.unpack("!H", payload[:2])[0] == 1011
    assert engine.transport_policy.health()["internal_errors"] == 1
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1 and "a bug in the server" in str(failures[0].exc_info[1])
    assert "malformed" not in caplog.text and "invalid" not in caplog.text  # the client is not blamed
    writer.close()
    server.close()
    await server.wait_closed()


async def test_a_bug_while_reading_closes_with_1011_not_a_transport_crash(caplog):
    """ServerWebSocket.data_received runs in the event loop's callback: a bug there is ours."""
    loop = asyncio.get_running_loop()
    accepted: asyncio.Queue = asyncio.Queue()
    server = await loop.create_server(lambda: Accepting(accepted), "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    transport = await accepted.get()
    from core.transport.websocket import ServerWebSocket

    policy = TransportPolicy()
    ws = ServerWebSocket(transport, 1000, policy)
    transport.get_protocol().websocket = ws
    ws.serve_queue(_Broken())  # a queue whose byte count fails: our bug
    with caplog.at_level(logging.ERROR, logger="chat.websocket"):
        writer.write(bytes([0x81, 0x82, 1, 2, 3, 4]) + bytes(b ^ k for b, k in zip(b"hi", b"\x01\x02")))
        first, second = await asyncio.wait_for(reader.readexactly(2), 5)
        payload = await reader.readexactly(second & 0x7F)
    assert first == 0x88 and struct.unpack("!H", payload[:2])[0] == 1011
    assert policy.health()["internal_errors"] == 1
    assert any(r.exc_info and "internal error while reading" in r.getMessage() for r in caplog.records)
    writer.close()
    server.close()
    await server.wait_closed()


class _Broken:
    """An Engine.IO queue stand-in whose byte count raises."""

    link = None

    @property
    def nbytes(self):
        raise RuntimeError("a bug in the accounting")

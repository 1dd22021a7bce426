"""An Engine.IO websocket session loop without a task and a timer per received message.

engineio's own loop wraps every read in a new task and an `asyncio.wait_for`, and its writer a
`wait_for` (a task in Python 3.11) per wake-up. Here reads are awaited directly from
core.transport.websocket, and the writer waits on the queue alone: when engineio closes a session (a
ping timeout, the client's close packet), core.sio.binding.EngineServer queues None behind the
CLOSE packet, the writer sends what is queued and closes the websocket, which ends the read.
The session's queue and the websocket share one budget (core.transport.budget); a client cut
off for not reading has its queue emptied and its socket aborted, which ends this loop.
"""

from __future__ import annotations

import asyncio
import logging

from core.sio.internals import (end_websocket_session, message_handler, outgoing, receive_packet,
                                upgrade_session, websocket_upgrades)

log = logging.getLogger("chat.binding")


async def _write_queued(queue, out) -> None:
    """Send what is queued for the socket (pings, acks, anything not written directly)."""
    while True:
        packets = [await queue.get()]  # a session that ends always queues None (EngineServer)
        queue.task_done()
        while not queue.empty():
            packets.append(queue.get_nowait())
            queue.task_done()
        try:
            for pkt in packets:
                if pkt is None:
                    break
                await out.send(pkt.encode())
        except OSError:
            break  # the peer is gone or was cut off
        if None in packets:
            break
    await out.close()


async def run_session(sock, ws) -> None:
    """Serve an engineio socket over ws (core.sio.driver.SanicWebSocket) until either side ends it."""
    server = sock.server
    out = ws.out  # core.transport.direct.DirectWriter
    if websocket_upgrades(sock):
        if not await upgrade_session(sock, ws, server.transport_policy.handshake_timeout):
            return
    queue = outgoing(sock)
    out.ws.serve_queue(queue)  # the queue's bytes and the socket's count as one backlog
    writer = server.start_background_task(_write_queued, queue, out)
    server.direct.attach(sock.sid, out)  # core.sio.fanout may write broadcast frames to it directly
    on_message = message_handler(server)
    try:
        while True:
            try:
                data = await ws.wait()  # the websocket enforces max_http_buffer_size
            except OSError:
                break
            if on_message is not None and data.__class__ is str and data[:1] == "4":
                # A message, as engineio's receive() would pass it on, minus a Packet and a log call.
                await on_message(sock.sid, data[1:])
                continue
            if not out.ws.admit_control():
                continue  # an Engine.IO ping flood: metered like websocket pings
            if await receive_packet(sock, data):
                break  # the client's close packet, or the session is closed
    finally:
        # A cancellation (at shutdown) must not leave the session half ended.
        ending = asyncio.ensure_future(end_websocket_session(sock, writer, out))
        try:
            await asyncio.shield(ending)
        except asyncio.CancelledError:
            await ending
            raise

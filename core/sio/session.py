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

from engineio import exceptions
from engineio import packet as eio_packet

from core.sio.internals import drop_session, end_pending_poll

log = logging.getLogger("chat.binding")


async def _upgrade(sock, ws, timeout: float) -> bool:
    """Finish a polling -> websocket upgrade (probe ping/pong, then the upgrade packet) in time."""
    sock.upgrading = True  # holds back direct writes until the upgrade is done
    try:
        async with asyncio.timeout(timeout):
            probe = eio_packet.Packet(encoded_packet=await ws.wait())
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                log.info("%s: websocket upgrade failed: no probe ping", sock.sid)
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            end_pending_poll(sock)  # a waiting long-poll GET gets a NOOP (and nothing is left over)
            upgrade = eio_packet.Packet(encoded_packet=await ws.wait())
        if upgrade.packet_type != eio_packet.UPGRADE:
            log.info("%s: websocket upgrade failed: expected the upgrade packet", sock.sid)
            return False
        sock.upgraded = True
        return True
    except TimeoutError:
        sock.server.transport_policy.count("probe_timeouts")
        log.info("%s: websocket upgrade failed: no probe and upgrade within %gs", sock.sid, timeout)
        return False
    except OSError:
        return False
    finally:
        sock.upgrading = False


async def _write_queued(sock, out) -> None:
    """Send what is queued for the socket (pings, acks, anything not written directly)."""
    queue = sock.queue
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
    if sock.connected:
        if not await _upgrade(sock, ws, server.transport_policy.handshake_timeout):
            return
    else:
        sock.connected = True
        sock.upgraded = True
    out.ws.serve_queue(sock.queue)  # the queue's bytes and the socket's count as one backlog
    writer = server.start_background_task(_write_queued, sock, out)
    server.direct.attach(sock.sid, out)  # core.sio.fanout may write broadcast frames to it directly
    on_message = server.handlers.get("message")
    try:
        while True:
            try:
                data = await ws.wait()  # the websocket enforces max_http_buffer_size
            except OSError:
                break
            try:
                if on_message is not None and data.__class__ is str and data[:1] == "4":
                    # A message, as sock.receive() would pass it on, minus a Packet and a log call.
                    await on_message(sock.sid, data[1:])
                    continue
                if not out.ws.admit_control():
                    continue  # an Engine.IO ping flood: metered like websocket pings
                await sock.receive(eio_packet.Packet(encoded_packet=data))
                if sock.closed:
                    break  # the client's close packet
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
    finally:
        # A cancellation (at shutdown) must not leave the session half ended.
        ending = asyncio.ensure_future(_end_session(sock, writer, out))
        try:
            await asyncio.shield(ending)
        except asyncio.CancelledError:
            await ending
            raise


async def _end_session(sock, writer, out) -> None:
    sock.server.direct.detach(sock.sid, out)
    await sock.queue.put(None)  # lets the writer finish what is queued, then close
    await writer
    await sock.close(wait=False, abort=True, reason=sock.server.reason.TRANSPORT_CLOSE)


def cut_session(eio, queue) -> None:
    """End the Engine.IO session whose queue a slow client let grow over its budget."""
    for sid, sock in list(eio.sockets.items()):
        if sock.queue is queue:
            eio.start_background_task(drop_session, eio, sid)
            return

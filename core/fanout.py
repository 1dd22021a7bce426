"""Broadcast fast path: encode a message once, write the same websocket frame to every recipient.

python-socketio's manager creates one task per recipient per message and lets each socket's
writer task build its own frame. Server-to-client websocket frames are not masked, so one frame
serves every websocket recipient: it is written straight to each transport when nothing is
queued ahead of it; polling clients (and websockets with a backlog) get the packet queued as usual.
"""

from __future__ import annotations

from engineio import packet as eio_packet
from socketio import AsyncManager
from socketio import packet as sio_packet

from core.websocket import text_frame


class FanoutManager(AsyncManager):
    """AsyncManager whose emits without callbacks encode once and skip the per-recipient tasks."""

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
                   to=None, **kwargs):
        room = to or room
        if callback or namespace not in self.rooms or not getattr(self.server.eio, "direct_writes", True):
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, **kwargs)
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace,
                                           data=[event, *args]).encode()
        if isinstance(encoded, list):  # binary attachments: the ordinary path handles them
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = None
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        sockets = self.server.eio.sockets
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed or sock.closing:
                continue
            direct = getattr(sock, "direct_writer", None)
            if direct is not None and sock.upgraded and not sock.upgrading and sock.queue.empty():
                if frame is None:
                    frame = text_frame(pkt.encode().encode())
                if direct.write_frame(frame):
                    continue
            sock.queue.put_nowait(pkt)  # the socket's writer (or the next poll) sends it, in order

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

from core.protocol.frames import text_frame
from core.sio.internals import open_queue, serves_namespace


# Argument types that can hold no binary data: such an event is encoded without a Packet.
_SCALARS = frozenset({str, int, float, bool, type(None)})


class FanoutManager(AsyncManager):
    """AsyncManager whose emits without callbacks encode once and skip the per-recipient tasks."""

    def _encode(self, event, args, namespace) -> str | list:
        """What python-socketio's Packet(EVENT, namespace, [event, *args]).encode() gives."""
        if namespace == "/" and all(arg.__class__ in _SCALARS for arg in args):
            return "2" + self.server.packet_class.json.dumps([event, *args], separators=(",", ":"))
        return self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
                   to=None, **kwargs):
        room = to or room
        eio = self.server.eio
        direct = eio.direct  # core.transport.direct.DirectWrites
        if callback or not serves_namespace(self, namespace) or not direct.enabled:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, **kwargs)
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self._encode(event, args, namespace)
        if isinstance(encoded, list):  # binary attachments: the ordinary path handles them
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        writers = direct.writers
        frame = text_frame(("4" + encoded).encode()) if writers else None
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            writer = writers.get(eio_sid)
            if writer is not None and writer.write_frame(frame):
                continue
            queue = open_queue(eio, eio_sid)
            if queue is not None:
                queue.put_nowait(pkt)  # the socket's writer (or the next poll) sends it, in order

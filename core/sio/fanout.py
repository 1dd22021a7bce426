"""Broadcast fast path: encode a message once, write the same websocket frame to every recipient.

python-socketio's manager creates one task per recipient per message and lets each socket's
writer task build its own frame. Server-to-client websocket frames are not masked, so one frame
serves every websocket recipient: it is written straight to each transport when nothing is
queued ahead of it; polling clients (and websockets with a backlog) get the packet queued as usual.

With connection-state recovery (core/sio/recovery.py) each event is also kept with its offset,
and recipients that asked for offsets get the same packet with the offset spliced in: still one
encode, and at most two frames per message.
"""

from __future__ import annotations

import base64
import uuid

from engineio import packet as eio_packet
from socketio import AsyncManager
from socketio import packet as sio_packet

from core.protocol.frames import text_frame
from core.sio.holds import Holds
from core.sio.internals import audience, open_queue, serves_namespace
from core.sio.recovery import with_offset


# Argument types that can hold no binary data: such an event is encoded without a Packet.
_SCALARS = frozenset({str, int, float, bool, type(None)})


class FanoutManager(AsyncManager):
    """AsyncManager whose emits without callbacks encode once and skip the per-recipient tasks."""

    recovery = None      # core.sio.recovery.Recovery when connection-state recovery is on
    read_id = "0"        # how far this process has read the backplane's stream ("0": there is none)
    own_seq = 0          # sequence number of this process's latest own event
    sessions = None      # shared store of kept sessions; None: in this process only
    metrics = None       # core.policies.metrics.Metrics when server.metrics is on

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not getattr(self, "host_id", None):  # the pub/sub managers name their process themselves
            self.host_id = uuid.uuid4().hex
        self.holds = Holds()  # deliveries kept back from joining sockets (core/sio/holds.py)

    # Offsets (core/sio/recovery.py) ---------------------------------------------------------

    def next_offset(self) -> tuple[str, str, int]:
        """(offset, origin, seq) of the event being delivered; here every event is this process's own."""
        self.own_seq += 1
        return f"{self.read_id}~{self.own_seq}", self.host_id, self.own_seq

    def current_offset(self) -> str:
        """The offset of a client that has everything this process delivered so far."""
        return f"{self.read_id}~{self.own_seq}"

    def skip_until(self, sid: str, origin: str, seq: int) -> None:
        """Do not deliver origin's events up to seq to sid (it had them); only a stream needs it."""

    async def missed_since(self, host: str, offset: str, limit: int):
        """What a client missed since offset by the shared stream; without one: None (cannot tell)."""
        return None

    def encode_event(self, message: dict) -> str | list:
        """The packet of a backplane emit message (core/backplane/redis.py's format)."""
        data = message["data"]
        if message.get("binary"):
            attachments = [base64.b64decode(a) for a in data[1:]]
            data = sio_packet.Packet.reconstruct_binary(data[0], attachments)
        return self._encode(message["event"], list(data), message.get("namespace") or "/")

    # Emit -----------------------------------------------------------------------------------

    def _encode(self, event, args, namespace) -> str | list:
        """What python-socketio's Packet(EVENT, namespace, [event, *args]).encode() gives."""
        if namespace == "/" and all(arg.__class__ in _SCALARS for arg in args):
            return "2" + self.server.packet_class.json.dumps([event, *args], separators=(",", ":"))
        return self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
                   to=None, **kwargs):
        room = to or room
        if self.metrics is not None:  # counted once per emit; the audience is a dict length, not a loop
            self.metrics.event_emitted(event, audience(self, namespace, room, skip_sid))
        if self.holds.active:
            held = self.holds.intercept(self, event, data, namespace, room, skip_sid)
            if held:
                skip_sid = [*(skip_sid if isinstance(skip_sid, list) else [skip_sid]), *held]
        eio = self.server.eio
        recovery = self.recovery
        if recovery is not None and not callback:
            return await self._emit_kept(recovery, event, data, namespace, room, skip_sid, **kwargs)
        direct = eio.direct  # core.transport.direct.DirectWrites
        if callback or not serves_namespace(self, namespace) or not direct.enabled:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, **kwargs)
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self._encode(event, args, namespace)
        if isinstance(encoded, list):  # binary attachments: the ordinary path handles them
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        self._fan_out(encoded, namespace, room, skip_sid)

    def _fan_out(self, encoded: str, namespace, room, skip_sid, tagged: str | None = None,
                 capable=frozenset()) -> None:
        """Write encoded to every participant (tagged to those in capable), directly when possible."""
        eio = self.server.eio
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        writers = eio.direct.writers
        frame = text_frame(("4" + encoded).encode()) if writers else None
        tagged_pkt = tagged_frame = None
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            if sid in capable:
                if tagged_pkt is None:
                    tagged_pkt = eio_packet.Packet(eio_packet.MESSAGE, tagged)
                    tagged_frame = text_frame(("4" + tagged).encode()) if writers else None
                this_pkt, this_frame = tagged_pkt, tagged_frame
            else:
                this_pkt, this_frame = pkt, frame
            writer = writers.get(eio_sid)
            if writer is not None and writer.write_frame(this_frame):
                continue
            queue = open_queue(eio, eio_sid)
            if queue is not None:
                queue.put_nowait(this_pkt)  # the socket's writer (or the next poll) sends it, in order

    async def _emit_kept(self, recovery, event, data, namespace, room, skip_sid, **kwargs):
        """Emit with an offset: kept for returning clients, spliced in for those that asked for it."""
        offset, origin, seq = self.next_offset()  # before any await: the position of this event
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self._encode(event, args, namespace)
        recovery.record(offset, origin, seq, namespace, room, skip_sid, encoded)
        if not serves_namespace(self, namespace):
            return
        capable = recovery.capable
        if recovery.restoring:  # connections being restored get this event with their replay
            skip_sid = [*(skip_sid if isinstance(skip_sid, list) else [skip_sid]), *recovery.restoring]
        if not isinstance(encoded, list) and self.server.eio.direct.enabled:
            return self._fan_out(encoded, namespace, room, skip_sid, with_offset(encoded, offset), capable)
        # Binary attachments or fast_fanout off: python-socketio's path, once per kind of recipient.
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        targets = [sid for sid, _ in self.get_participants(namespace, room) if sid not in skip]
        tagged = [sid for sid in targets if sid in capable]
        plain = [sid for sid in targets if sid not in capable]
        if tagged:
            await super().emit(event, (*args, offset), namespace, room=tagged, **kwargs)
        if plain:
            await super().emit(event, tuple(args), namespace, room=plain, **kwargs)

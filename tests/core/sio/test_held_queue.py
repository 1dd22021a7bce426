"""The connect-time output hold: held packets wait, keep their order, and a refusal drops only its own."""

from __future__ import annotations

from engineio import packet as eio_packet

from core.sio.held_queue import HoldingQueue, OutputHold, namespace_of, without_namespace
from core.transport.direct import DirectWrites


def message(data):
    return eio_packet.Packet(eio_packet.MESSAGE, data)


def test_namespace_of_encoded_packets():
    assert namespace_of('2["x"]') == "/"
    assert namespace_of('21["x"]') == "/"
    assert namespace_of('2/admin,["x"]') == "/admin"
    assert namespace_of('2/admin,7["x"]') == "/admin"
    assert namespace_of('51-/admin,["x",{"_placeholder":true,"num":0}]') == "/admin"
    assert namespace_of('51-["x",{"_placeholder":true,"num":0}]') == "/"
    assert namespace_of("0/admin") == "/admin"
    assert namespace_of(b"\x00") is None


def test_held_packets_wait_and_come_back_in_order():
    queue = HoldingQueue()
    queue.put_nowait(message("before"))
    assert queue.hold() and not queue.hold()  # a second hold joins the first
    queue.put_nowait(message("held 1"))
    queue.put_nowait(message("held 2"))
    assert [p.data for p in queue.items] == ["before"]
    assert queue.nbytes > 0
    held = queue.release()
    assert [p.data for p in held] == ["held 1", "held 2"]
    queue.put_nowait(message("answer"))
    for pkt in held:
        queue.put_nowait(pkt)
    assert [p.data for p in queue.items] == ["before", "answer", "held 1", "held 2"]


def test_the_end_of_a_session_is_never_held():
    queue = HoldingQueue()
    queue.hold()
    queue.put_nowait(None)
    assert queue.items == [None]


def test_a_refusal_drops_its_namespace_and_attachments_only():
    ping = eio_packet.Packet(eio_packet.PING)
    items = [message('2["welcome"]'), ping, message('2/other,["keep"]'),
             message('51-["file",{"_placeholder":true,"num":0}]'), message(b"\x01"),
             message('2/other,["keep too"]')]
    kept = without_namespace(items, "/")
    assert [p.data for p in kept] == [None, '2/other,["keep"]', '2/other,["keep too"]']
    assert kept[0] is ping


class Writer:
    def __init__(self, queue):
        self.session = type("Session", (), {"queue": queue})()

    def write_packet(self, pkt):
        return False


def test_the_direct_writer_is_off_the_registry_while_held():
    queue = HoldingQueue()
    direct = DirectWrites()
    writer = Writer(queue)
    direct.attach("sid", writer)
    hold = OutputHold(queue, direct, "sid")
    assert "sid" not in direct.writers  # broadcasts queue (and are held) instead of overtaking
    hold.release()
    assert direct.writers["sid"] is writer

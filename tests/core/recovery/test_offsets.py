"""The pieces of core/sio/recovery.py that need no server: offsets spliced into packets, the event log."""

import json

from socketio import packet as sio_packet

from core.sio.recovery import EventLog, Kept, addressed, with_offset


def test_the_offset_is_spliced_in_as_the_last_argument_of_every_packet_shape():
    plain = sio_packet.Packet(sio_packet.EVENT, data=["receiveAll", {"a": "]"}]).encode()
    assert json.loads(with_offset(plain, "17-0~3")[1:]) == ["receiveAll", {"a": "]"}, "17-0~3"]
    spaced = sio_packet.Packet(sio_packet.EVENT, namespace="/admin", data=["ev", 1]).encode()
    assert with_offset(spaced, "0~1") == '2/admin,["ev",1,"0~1"]'
    binary = sio_packet.Packet(sio_packet.EVENT, data=["file", b"\x00\x01"]).encode()
    tagged = with_offset(binary, "0~2")
    assert tagged[1:] == binary[1:] and tagged[0].endswith(',"0~2"]')
    # What python-socketio itself encodes for the same arguments plus the offset.
    assert tagged[0] == sio_packet.Packet(sio_packet.EVENT, data=["file", b"\x00\x01", "0~2"]).encode()[0]


def test_addressed_follows_rooms_and_skip():
    rooms = {"sid1", "room:a"}
    assert addressed(None, None, "sid1", rooms)
    assert addressed("room:a", None, "sid1", rooms)
    assert not addressed("room:b", None, "sid1", rooms)
    assert addressed(["room:b", "room:a"], None, "sid1", rooms)
    assert not addressed("room:a", "sid1", "sid1", rooms)
    assert not addressed("room:a", ["x", "sid1"], "sid1", rooms)


def kept(n, origin="me", at=0.0):
    return Kept(f"0~{n}", "/", None, None, f'2["e",{n}]', origin, n, at)


def test_the_log_is_bounded_and_says_when_it_cannot_answer():
    log = EventLog(cap=3, max_age=10, host_id=lambda: "me")
    for n in range(1, 6):
        log.add(kept(n, at=float(n)))
    assert [k.seq for k in log.entries] == [3, 4, 5]
    assert log.index_of("0~4") == 4 and [k.seq for k in log.since(4)] == [5]
    assert log.index_of("0~1") is None  # evicted: the caller refuses, never replays a part
    assert log.since(1) is None
    assert log.own_after(1) is None and [k.seq for k in log.own_after(3)] == [4, 5]


def test_the_log_forgets_by_age():
    log = EventLog(cap=100, max_age=10, host_id=lambda: "me")
    log.add(kept(1, at=0.0))
    log.add(kept(2, origin="other", at=5.0))
    log.add(kept(3, at=11.0))
    assert [k.seq for k in log.entries] == [2, 3]
    assert log.own_after(0) is None  # own event 1 is gone

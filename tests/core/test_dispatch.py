"""The EVENT fast path decodes exactly what python-socketio's own Packet decodes."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from socketio import packet as sio_packet

from core.sio.server import PacketJson, plain_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


class Packet(sio_packet.Packet):
    json = PacketJson  # what the server's packet class uses


def upstream(data: str) -> tuple[int | None, object]:
    pkt = Packet(encoded_packet=data)
    assert pkt.packet_type == sio_packet.EVENT and pkt.namespace is None
    return pkt.id, pkt.data


@given(event=st.text(min_size=1), args=st.lists(json_values, max_size=3),
       ack_id=st.none() | st.integers(min_value=0, max_value=10**30))
@example(event="broadcast", args=["hi"], ack_id=None)
@example(event="groupmsg", args=["room", "x"], ack_id=12)
@example(event="x", args=[], ack_id=10**99)  # the longest id python-socketio reads
def test_plain_event_matches_python_socketio(event, args, ack_id):
    data = "2" + ("" if ack_id is None else str(ack_id)) + json.dumps([event, *args])
    assert plain_event(data) == upstream(data)


@pytest.mark.parametrize("data", ["2/chat,[\"x\"]", "2", "212", "2abc", "2-[\"x\"]", "21a[\"x\"]",
                                  "2" + "9" * 101 + "[\"x\"]"])
def test_other_shapes_are_left_to_python_socketio(data):
    assert plain_event(data) is None


@pytest.mark.parametrize("data", ["2[", "2[\"x\",NaN", "21[oops]"])
def test_malformed_events_raise_like_upstream(data):
    with pytest.raises(ValueError):
        upstream(data)
    with pytest.raises(ValueError):
        plain_event(data)

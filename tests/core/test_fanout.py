"""The broadcast fast path puts the same bytes on the wire as python-socketio's own path."""

import asyncio

import pytest

from tests.support.raw import RawPolling, RawWebSocket, event_packet

pytestmark = pytest.mark.asyncio

# Values whose encoding could differ between paths: unicode, escapes, nesting, numbers, null.
PAYLOADS = ["plain", "héllo ✓ \U0001f600", 'quote " backslash \\ newline \n', {"a": [1, 2.5, None, True]},
            None, 12345678901234567890, ["x" * 200], "y" * 70_000]


async def frames_received(server, send_events) -> list[str]:
    """What a websocket and a polling receiver get for the events `send_events` triggers."""
    ws = await RawWebSocket.open(server.url)
    sender = await RawWebSocket.open(server.url)
    try:
        await send_events(sender)
        got = []
        while len(got) < len(PAYLOADS) * 2 + 2:  # broadcasts + the room messages below
            frame = await ws.recv(timeout=5)
            if isinstance(frame, str) and frame.startswith("42"):
                got.append(frame)
        return got
    finally:
        await ws.close()
        await sender.close()


async def send_everything(sender):
    for payload in PAYLOADS:
        await sender.send(event_packet("broadcast", payload))
        await sender.send(event_packet("test1", payload, [payload]))
    await sender.send(event_packet("test2", {"nickName": "n", "msg": "m"}))
    await sender.send(event_packet("broadcast", "last"))


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "upstream-path"])
async def test_each_path_delivers_every_event_once_in_order(start_server, fast):
    srv = start_server({"server": {"fast_fanout": fast}})
    got = await frames_received(srv, send_everything)
    names = [frame.split('"', 2)[1] for frame in got]
    assert names == ["receiveAll", "receive1"] * len(PAYLOADS) + ["receive2", "receiveAll"]


async def test_fast_and_upstream_paths_write_identical_frames(start_server):
    fast = start_server({"server": {"fast_fanout": True}}, name="fast")
    upstream = start_server({"server": {"fast_fanout": False}}, name="upstream")
    fast_frames, upstream_frames = await asyncio.gather(
        frames_received(fast, send_everything), frames_received(upstream, send_everything))
    assert fast_frames == upstream_frames


async def test_polling_receivers_get_the_same_packets_as_websocket_receivers(server, clients):
    import aiohttp

    async with aiohttp.ClientSession() as http:
        poller = await RawPolling.open(http, server.url)
        ws = await RawWebSocket.open(server.url)
        sender = await RawWebSocket.open(server.url)
        try:
            await sender.send(event_packet("broadcast", {"k": "é"}))
            ws_frame = await ws.recv_matching(lambda f: isinstance(f, str) and f.startswith("42"))
            polled = []
            while not polled:
                polled = [p for p in await poller.get() if p.startswith("42")]
            assert polled == [ws_frame]
        finally:
            await ws.close()
            await sender.close()

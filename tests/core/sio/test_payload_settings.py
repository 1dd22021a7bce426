"""`server.max_payload` and `server.max_message_size` are two settings, each what the user wrote."""

from __future__ import annotations

import aiohttp

from tests.support.raw import RawPolling, RawWebSocket


async def test_max_payload_defaults_to_room_for_the_message_limit(start_server):
    srv = start_server({"server": {"max_message_size": 2048}})
    ws = await RawWebSocket.open(srv.url, join=False)
    assert ws.open_packet["maxPayload"] == 2048 * 6 + 1024  # any JSON escaping of a 2048-byte value fits
    await ws.close()


async def test_both_limits_are_what_the_config_says(start_server):
    srv = start_server({"server": {"max_message_size": 2048, "max_payload": 100_000}})
    async with aiohttp.ClientSession() as http:
        raw = await RawPolling.open(http, srv.url)
        assert raw.open_packet["maxPayload"] == 100_000
        # Over the message limit but within the payload: the value is refused, the session stays.
        ack = await raw.call("broadcast", "x" * 3000)
        assert ack[0]["ok"] is False and "too large" in ack[0]["error"], ack
        assert await raw.call("broadcast", "small") == [{"ok": True}]
        # Over the payload: 413, and the session is over.
        assert await raw.post("4" + "x" * 100_000) == 413
        assert await raw.closed_within(5) < 5

"""A room of 2,000 members: members() answers within the ack timeout, listing a bounded part, counting all."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.plugins.presence.roster import on_redis
from tests.support.raw import eio_url
from tests.support.server import merge

pytestmark = pytest.mark.redis

MEMBERS = 2000
LISTED = 100


async def bare_member(http: aiohttp.ClientSession, url: str, room: str, nick: str, gate: asyncio.Semaphore):
    """A bare Engine.IO websocket (aiohttp's, whose frame reader is C) that enters room, then only reads.

    Every entry is announced to the room by group_chat: 2,000 members receive ~2 million notices
    in all, so the reader must be cheap.
    """
    async with gate:
        ws = await http.ws_connect(eio_url(url, "websocket"), autoping=False, max_msg_size=0,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=1))
        assert (await asyncio.wait_for(ws.receive_str(), 20)).startswith("0{")
        await ws.send_str("40")
        while not (await asyncio.wait_for(ws.receive_str(), 20)).startswith("40"):
            pass
        await ws.send_str("42" + json.dumps(["entry", room, nick]))

    async def drain():
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":
                await ws.send_str("3")

    return ws, asyncio.create_task(drain())


async def test_a_room_of_2000_is_answered_in_time_and_bounded(start_server, redis_server, clients):
    server = start_server(merge(on_redis(redis_server), {
        "server": {"max_connections_per_address": MEMBERS + 10, "ping_interval": 25, "ping_timeout": 20},
        "plugins": {"presence": {"max_members_listed": LISTED}},
    }))
    asker = await clients.js(server.url)
    await asker.call("entry", "stadium", "asker")
    gate = asyncio.Semaphore(50)
    started = time.monotonic()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    members = await asyncio.gather(*(bare_member(http, server.url, "stadium", f"fan{n:04d}", gate)
                                     for n in range(MEMBERS)))
    try:
        deadline = time.monotonic() + 60
        while True:
            answer = await asker.call("members", "stadium")  # the JS client's ack timeout: 5 s
            if answer["connections"] == MEMBERS + 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        print(f"\n{MEMBERS} members in {time.monotonic() - started:.1f}s")
        asked = time.monotonic()
        answer = await asker.call("members", "stadium")
        print(f"members() of {answer['connections']} answered in {time.monotonic() - asked:.2f}s, "
              f"{len(json.dumps(answer))} bytes")
        assert answer["total"] == MEMBERS + 1 and answer["connections"] == MEMBERS + 1
        assert len(answer["members"]) == LISTED
        assert answer["members"][0]["nickName"] == "asker"  # oldest first
        assert len(json.dumps(answer)) < LISTED * 150  # bounded by the listing, not the room
    finally:
        for ws, reader in members:
            reader.cancel()
        await asyncio.gather(*(ws.close() for ws, _ in members), return_exceptions=True)
        await http.close()

"""Helpers for the presence tests: configs, polling members(), folding the diffs a client received."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.support.raw import health
from tests.support.server import merge

# Fast diffs and sweeps so that the tests wait little; the shipped defaults are 0.2 s and 5 s.
PRESENCE = {"plugins": {"presence": {"enabled": True, "diff_interval": 0.05, "sweep_interval": 0.5}}}


def on_redis(redis, **options) -> dict:
    """A config on redis_server, with quick heartbeats (a dead process is known within 1.5 s)."""
    redis_options = {"url": redis.url, "heartbeat_interval": 0.5, "heartbeat_expiry": 1.5, **options}
    return merge(PRESENCE, {"backplane": {"kind": "redis", "redis": redis_options}})


def roster(answer: dict) -> list[tuple[str, int]]:
    """A members() answer as sorted (nickName, count) pairs."""
    assert answer["ok"] is True, answer
    return sorted((m["nickName"], m["count"]) for m in answer["members"])


async def members_when(client, room: str, expected: list[tuple[str, int]], timeout: float = 5.0) -> dict:
    """Ask members(room) until it lists `expected` (sorted (nick, count) pairs); that answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await client.call("members", room)
        if roster(answer) == sorted(expected):
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"members({room!r}) never became {sorted(expected)} in {timeout}s; "
                                 f"last: {answer!r}")
        await asyncio.sleep(0.05)


def diff_entries(client, room: str) -> tuple[list[dict], list[dict]]:
    """Every joined and left entry of the presence diffs client received for room, in order."""
    joined, left = [], []
    for room_id, diff in client.inbox.all("presence"):
        if room_id == room:
            joined += diff["joined"]
            left += diff["left"]
    return joined, left


def folded(client, room: str, snapshot: dict | None = None, after: int = 0) -> list[tuple[str, int]]:
    """The roster a client builds as the page does: a members() snapshot (or nothing), then the
    diffs received after the first `after` ones, each diff's joins before its leaves."""
    live: dict[str, str] = {}
    for member in (snapshot or {}).get("members", []):
        live.update({conn_id: member["nickName"] for conn_id in member["ids"]})
    for room_id, diff in client.inbox.all("presence")[after:]:
        if room_id != room:
            continue
        for entry in diff["joined"]:
            live[entry["id"]] = entry["nickName"]
        for entry in diff["left"]:
            live.pop(entry["id"], None)
    return sorted(Counter(live.values()).items())


def assert_each_change_once(client, room: str) -> None:
    """Each connection id joined at most once and left at most once, and never left before joining."""
    joined, left = diff_entries(client, room)
    assert len({e["id"] for e in joined}) == len(joined), joined
    assert len({e["id"] for e in left}) == len(left), left


async def ready(*servers, timeout: float = 10.0) -> None:
    """Wait until every server's /healthz is "ok" and lists all the servers as live processes."""
    def all_ok() -> bool:
        for server in servers:
            body = health(server.url)
            live = ((body.get("backplane") or {}).get("heartbeat") or {}).get("processes") or []
            if body.get("status") != "ok" or len(live) < len(servers):
                return False
        return True

    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(all_ok):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"servers not healthy, or not all live, in {timeout}s: "
                                 f"{[health(s.url) for s in servers]}")
        await asyncio.sleep(0.05)

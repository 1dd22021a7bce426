"""core.transport.budget and the queue's byte accounting: the water marks, the clock, the cut."""

from __future__ import annotations

import asyncio

from engineio import packet as eio_packet

from core.transport.budget import TransportPolicy
from core.transport.lean_queue import PACKET_OVERHEAD, LeanQueue, packet_size


def message(size: int) -> eio_packet.Packet:
    return eio_packet.Packet(eio_packet.MESSAGE, "x" * size)


class Link:
    """What a websocket shows the budget: unsent bytes, a peer name, abort()."""

    peer = "127.0.0.1:1"

    def __init__(self, unsent: int = 0):
        self.unsent, self.aborted = unsent, False

    def buffered(self) -> int:
        return self.unsent

    def abort(self) -> None:
        self.aborted = True


def policy(**kwargs) -> tuple[TransportPolicy, list]:
    cut: list = []
    p = TransportPolicy(budget=40_000, slow_client_timeout=0.05, **kwargs)
    p.on_cut = cut.append
    return p, cut


async def test_the_queue_counts_the_bytes_it_holds():
    queue = LeanQueue()
    queue.put_nowait(message(1000))
    queue.put_nowait(message(10))
    assert queue.nbytes == 2 * PACKET_OVERHEAD + 1010 == packet_size(message(1000)) + packet_size(message(10))
    await queue.get()
    assert queue.nbytes == PACKET_OVERHEAD + 10
    queue.put_nowait(None)
    assert queue.nbytes == PACKET_OVERHEAD + 10


async def test_a_backlog_between_the_marks_is_cut_when_the_clock_runs_out():
    p, cut = policy()
    queue = LeanQueue(p)
    queue.link = link = Link()
    for _ in range(25):
        queue.put_nowait(message(900))  # 25 KB: over high (20 KB), under the budget (40 KB)
    assert not cut and queue.over_since is not None
    await asyncio.sleep(0.1)
    assert cut == [queue] and link.aborted
    assert queue.items == [] and queue.nbytes == 0  # memory released at once
    assert p.health()["slow_clients_cut"] == 1
    queue.put_nowait(message(10))
    assert queue.items == []  # a cut-off client gets nothing more


async def test_a_client_that_catches_up_below_the_low_mark_is_kept():
    p, cut = policy()
    queue = LeanQueue(p)
    for _ in range(25):
        queue.put_nowait(message(900))
    while queue.nbytes > p.low:
        queue.get_nowait()
    await asyncio.sleep(0.1)
    assert cut == [] and queue.over_since is None
    assert p.health()["slow_clients_cut"] == 0


async def test_reaching_the_budget_cuts_at_once():
    p, cut = policy()
    queue = LeanQueue(p)
    queue.link = Link(unsent=30_000)  # the socket's unsent bytes count with the queue's
    for _ in range(11):
        queue.put_nowait(message(900))
    assert cut == [queue]


async def test_an_end_marker_survives_the_cut():
    p, cut = policy()
    queue = LeanQueue(p)
    queue.put_nowait(message(10))
    queue.put_nowait(None)
    p.cut(queue, "test")
    assert queue.items == [None]
    assert await queue.get() is None

"""core.transport.lean_queue behaves like asyncio.Queue where engineio relies on it."""

import asyncio

import pytest

from core.transport.lean_queue import LeanQueue


async def test_items_come_out_in_order_and_get_waits_for_one():
    queue = LeanQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    for item in ("a", "b", "c"):
        await queue.put(item)
    assert await getter == "a"
    assert [queue.get_nowait(), queue.get_nowait()] == ["b", "c"]
    assert queue.empty() and queue.qsize() == 0
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_a_cancelled_get_loses_no_item():
    queue = LeanQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")  # wakes `first` ...
    first.cancel()            # ... which is cancelled before it runs: `second` must get the item
    assert await asyncio.wait_for(second, 1) == "only"
    assert first.cancelled()


async def test_get_under_wait_for_times_out_cleanly():
    """engineio's polling transport waits for packets with asyncio.wait_for."""
    queue = LeanQueue()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(queue.get(), 0.01)
    queue.put_nowait(1)
    assert await asyncio.wait_for(queue.get(), 1) == 1


async def test_join_waits_until_every_item_is_done():
    queue = LeanQueue()
    await queue.join()  # nothing put: returns at once
    queue.put_nowait("x")
    queue.put_nowait("y")
    joiner = asyncio.ensure_future(queue.join())
    queue.get_nowait()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joiner.done()
    queue.get_nowait()
    queue.task_done()
    await asyncio.wait_for(joiner, 1)
    with pytest.raises(ValueError):
        queue.task_done()


async def test_sink_takes_items_only_when_nothing_waits_ahead():
    """A websocket writes a session's packets straight out unless something is queued before them."""
    queue, taken = LeanQueue(), []
    accepting = True

    def sink(item):
        if accepting:
            taken.append(item)
        return accepting

    queue.sink = sink
    queue.put_nowait("ack")
    assert taken == ["ack"] and queue.empty()
    accepting = False
    queue.put_nowait("ping")  # refused: queued for the writer
    accepting = True
    queue.put_nowait("after")  # "ping" waits ahead of it: queued behind, in order
    queue.put_nowait(None)  # the end-of-session marker always goes through the queue
    assert taken == ["ack"]
    assert [queue.get_nowait() for _ in range(3)] == ["ping", "after", None]

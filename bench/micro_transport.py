"""Micro-measurements behind the hand-written transport pieces (docs/performance.md).

    .venv/bin/python -m bench.micro_transport

- parsing: µs per 112-byte masked text frame (the size of a typical chat event from
  socket.io-client), core.protocol's ServerProtocol against websockets' ServerProtocol, one
  frame per receive_data() call as a socket delivers them, messages taken out each time;
- memory: bytes per Engine.IO queue, LeanQueue against asyncio.Queue (tracemalloc over 10,000).

Each figure is the best of several repeats (the least disturbed by other work on the machine).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc

from websockets.protocol import State
from websockets.server import ServerProtocol as ReferenceProtocol

from core.protocol.connection import ServerProtocol
from core.transport.lean_queue import LeanQueue

FRAMES = 100_000
REPEATS = 7


def chat_frame() -> bytes:
    line = "hello there, this is a chat line of ordinary length"
    while len(payload := ("42" + json.dumps(["groupmsg", "room1", line])).encode()) < 106:
        line += "!"
    mask = b"\x11\x22\x33\x44"
    assert len(payload) + 6 == 112, len(payload) + 6
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def per_frame(*parsers) -> list[float]:
    """µs per frame of each parser, the best of REPEATS rounds that run them in turn."""
    best = [float("inf")] * len(parsers)
    for _ in range(REPEATS):
        for i, parse in enumerate(parsers):
            gc.collect()
            started = time.perf_counter()
            parse()
            best[i] = min(best[i], time.perf_counter() - started)
    return [b / FRAMES * 1e6 for b in best]


def ours(frame: bytes):
    proto = ServerProtocol(1 << 20)

    def run():
        receive, events = proto.receive_data, proto.events_received
        for _ in range(FRAMES):
            receive(frame)
            events()
    return run


def parser_only(frame: bytes):
    """FrameReader.feed alone, as the parser before the sans-I/O split was measured."""
    proto = ServerProtocol(1 << 20)

    def run():
        feed = proto.feed
        for _ in range(FRAMES):
            feed(frame)
            proto._events = []
    return run


def reference(frame: bytes):
    proto = ReferenceProtocol(state=State.OPEN, max_size=None)

    def run():
        receive, events = proto.receive_data, proto.events_received
        for _ in range(FRAMES):
            receive(frame)
            for event in events():
                event.data.decode()  # what its connection does with a text frame
    return run


async def bytes_per_queue(make) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        queues = [make() for _ in range(10_000)]
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        best = min(best, (after - before) / len(queues))
        del queues
    return best


def main() -> None:
    frame = chat_frame()
    mine, feed, theirs = per_frame(ours(frame), parser_only(frame), reference(frame))
    print(f"parse a 112-byte frame: core.protocol ServerProtocol {mine:.2f} µs (its FrameReader.feed "
          f"alone {feed:.2f} µs), websockets ServerProtocol {theirs:.2f} µs ({theirs / mine:.1f}x)")
    lean = asyncio.run(bytes_per_queue(LeanQueue))
    stock = asyncio.run(bytes_per_queue(asyncio.Queue))
    print(f"one Engine.IO queue: LeanQueue {lean:.0f} B, asyncio.Queue {stock:.0f} B")


if __name__ == "__main__":
    main()

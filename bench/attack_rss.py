"""Server RSS under the attacks of issue 11, for the before/after figures in docs/performance.md.

    .venv/bin/python -m bench.attack_rss                 # this checkout
    .venv/bin/python -m bench.attack_rss --root DIR      # another checkout (e.g. `git archive` of an old commit)

Each attack runs against a fresh server with the default config (the slow reader's sender gets
its rate limit raised), from threads on raw sockets (tests/support/attack.py); the server's RSS
is sampled from /healthz every 0.1 s. Prints the RSS before, the peak, and whether and when the
attacker was cut off.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import tests.support.server as server_module
from tests.support.attack import OP_CONT, OP_PING, OP_TEXT, BlockingWebSocket, Sampler, client_frame
from tests.support.raw import event_packet, health
from tests.support.server import BASE_CONFIG, ServerProcess, merge

SECONDS = 10.0
FAST_SENDER = {"server": {"max_connections_per_address": 1000,
                          "rate_limit": {"messages_per_second": 100000, "burst": 100000, "disconnect_after": 0}}}


def rss_mib(srv) -> float:
    return health(srv.url)["rss_kib"] / 1024


def run(name: str, overrides: dict, attack) -> None:
    srv = ServerProcess(merge(BASE_CONFIG, overrides), Path(tempfile.mkdtemp())).start()
    try:
        before = rss_mib(srv)
        with Sampler(lambda: rss_mib(srv)) as rss:
            cut = attack(srv)
        after = rss_mib(srv)
        cut_text = f"cut off after {cut:.1f} s" if cut is not None else f"still connected after {SECONDS:g} s"
        print(f"{name:<30} rss {before:6.1f} MiB -> peak {rss.peak:7.1f} MiB (at the end {after:6.1f}); {cut_text}",
              flush=True)
    finally:
        srv.stop()


def ping_flood(srv) -> float | None:
    attacker = BlockingWebSocket.open(srv.port, rcvbuf=4096)
    try:
        return attacker.flood(client_frame(OP_PING, b"x" * 125) * 512, SECONDS)
    finally:
        attacker.close()


def fragment_flood(srv) -> float | None:
    attacker = BlockingWebSocket.open(srv.port)
    attacker.send(OP_TEXT, b"4", fin=False)
    try:
        return attacker.flood(client_frame(OP_CONT, b"2", fin=False) * 10000, SECONDS)  # 3 M fragments ~ 21 MB
    finally:
        attacker.close()


def slow_reader(srv) -> float | None:
    room = "flood"
    slow = BlockingWebSocket.open(srv.port, rcvbuf=4096)
    slow.send(OP_TEXT, event_packet("entry", room, "slow"))
    sender = BlockingWebSocket.open(srv.port)
    sender.send(OP_TEXT, event_packet("entry", room, "sender"))
    frame = client_frame(OP_TEXT, event_packet("groupmsg", room, "m" * 1000))
    stop = threading.Event()

    def send():  # 2,000 messages/s of 1 KB, the sender reading what comes back
        sent, started = 0, time.monotonic()
        sender.sock.settimeout(0)
        while not stop.is_set():
            for _ in range(40):
                try:
                    sender.sock.send(frame)
                    sent += 1
                except (BlockingIOError, OSError):
                    pass
            try:
                while sender.sock.recv(1 << 20):
                    pass
            except (BlockingIOError, OSError):
                pass
            time.sleep(max(0.0, started + sent / 2000 - time.monotonic()))

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        return slow.wait_cut(SECONDS)
    finally:
        stop.set()
        thread.join()
        slow.close()
        sender.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="checkout whose run.py to start (default: this one)")
    args = parser.parse_args()
    if args.root:
        server_module.ROOT = args.root.resolve()
    run("ping flood", {}, ping_flood)
    run("ping flood, rate limit raised", FAST_SENDER, ping_flood)
    run("fragment flood", {}, fragment_flood)
    run("slow reader", FAST_SENDER, slow_reader)


if __name__ == "__main__":
    main()

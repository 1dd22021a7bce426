"""A TCP proxy the test controls: forward, stall (hold every byte, keep the connections), reset, cut, delay.

stall() is a hung peer: what was sent meanwhile is delivered on resume() (a command whose reply
timed out may still be executed). cut() is an unreachable peer: connections reset, new ones too.

Threads, not the test's event loop: the tests' synchronous /healthz calls must not stall it.
Every thread polls a stop flag, so close() ends them all within a fraction of a second.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time

from tests.support.server import free_port

POLL = 0.02


class TcpProxy:
    """127.0.0.1:port -> 127.0.0.1:target_port."""

    def __init__(self, target_port: int, port: int | None = None):
        self.target_port = target_port
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.stalled = threading.Event()
        self.refusing = threading.Event()
        self.delay = 0.0
        self.connections_made = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    def start(self) -> "TcpProxy":
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        self._listener.settimeout(POLL * 5)
        self._spawn(self._accept)
        return self

    def stall(self) -> None:
        """Stop forwarding in both directions; connections stay open, as with a hung peer."""
        self.stalled.set()

    def resume(self) -> None:
        self.stalled.clear()

    def cut(self) -> None:
        """Reset every connection and every new one until restore()."""
        self.refusing.set()
        self.reset()

    def restore(self) -> None:
        self.refusing.clear()

    def reset(self) -> None:
        """Cut every current connection with a TCP reset (new ones are accepted)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _abort(sock)

    def close(self) -> None:
        self._stop.set()
        self.reset()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            if self.refusing.is_set():
                _abort(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=1)
            except OSError:
                _abort(client)
                continue
            self.connections_made += 1
            with self._lock:
                self._pairs.append((client, upstream))
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self._stop.is_set():
            if self.stalled.is_set():
                time.sleep(POLL)
                continue
            try:
                ready, _, _ = select.select([src], [], [], POLL)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                while self.stalled.is_set() and not self._stop.is_set():
                    time.sleep(POLL)  # a stall begun meanwhile holds this chunk too
                dst.sendall(data)
            except (OSError, ValueError):
                break
        for sock in (src, dst):
            _abort(sock)


def _abort(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass

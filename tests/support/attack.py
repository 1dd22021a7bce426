"""Blocking raw websocket clients for the attack tests: they run in threads, so a flood never
starves the test's own event loop (where the bystander's client runs).

    attacker = BlockingWebSocket.open(server.port, rcvbuf=4096)   # handshake, open packet, "/" joined
    attacker.send(OP_PING, b"x")                                   # one masked frame
    attacker.flood(frame_bytes, seconds=3.0)                       # seconds until the server cut it off
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time

from core.protocol.frames import apply_mask_py

TCP_ESTABLISHED = 1
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes | str, fin: bool = True, mask: bytes | None = None) -> bytes:
    """A masked client frame."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    mask = mask or os.urandom(4)
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    return header + mask + apply_mask_py(payload, mask)


class BlockingWebSocket:
    """One websocket over a blocking TCP socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    @classmethod
    def connect(cls, port: int, rcvbuf: int | None = None, query: str = "EIO=4&transport=websocket",
                timeout: float = 5.0) -> tuple["BlockingWebSocket", bytes]:
        """Handshake only: the client and the HTTP head of the answer."""
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        client = cls(sock)
        head = client._read_until(b"\r\n\r\n")
        return client, head

    @classmethod
    def open(cls, port: int, rcvbuf: int | None = None, join: bool = True) -> "BlockingWebSocket":
        client, head = cls.connect(port, rcvbuf)
        assert head.startswith(b"HTTP/1.1 101"), head
        opcode, payload = client.read()
        assert payload.startswith(b"0{"), payload
        if join:
            client.send(OP_TEXT, b"40")
            while not client.read()[1].startswith(b"40{"):
                pass
        return client

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}: {self.buffer[:200]!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame."""
        first, second = self._read_exactly(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read_exactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read_exactly(8))[0]
        return first & 0x0F, self._read_exactly(size)

    def close_code(self) -> int | None:
        """Read until the server's close frame; its code (None if the connection ends first)."""
        try:
            while True:
                opcode, payload = self.read()
                if opcode == OP_CLOSE:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        except (ConnectionError, OSError):
            return None

    def send(self, opcode: int, payload: bytes | str, fin: bool = True) -> None:
        self.sock.sendall(client_frame(opcode, payload, fin))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def flood(self, data: bytes, seconds: float) -> float | None:
        """Send data over and over, reading nothing; seconds until the server cut the connection
        off (a reset or a closed socket), None if it was still open after `seconds`."""
        started = time.monotonic()
        self.sock.settimeout(0.2)
        while time.monotonic() - started < seconds:
            try:
                self.sock.send(data)
            except socket.timeout:
                continue  # the server is not reading (or its window is full): keep trying
            except OSError:
                return time.monotonic() - started
        return None

    def tcp_state(self) -> int:
        """The kernel's TCP state of this socket (Linux TCP_INFO): 1 established, 7 closed, 8 close-wait."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]

    def wait_cut(self, seconds: float) -> float | None:
        """Without reading a byte, seconds until the server reset or closed the connection."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if self.tcp_state() != TCP_ESTABLISHED:
                return time.monotonic() - started
            time.sleep(0.02)
        return None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Sampler:
    """Samples a number (the server's RSS) in a thread every `interval` seconds; `.peak` is the largest."""

    def __init__(self, read, interval: float = 0.1):
        self.read, self.interval = read, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.read())
            except OSError:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

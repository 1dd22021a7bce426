"""The two servers the wire-conformance tests compare: this project's and Node's reference.

`wire_server` is parametrised over both, so every assertion is measured against Node's
socket.io 4.8 / engine.io 6.6 (bench/node/, with tests/core/sio/node_wire.js's hooks) as well.
The Node side is skipped only when `node` is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import BASE_CONFIG, ROOT, ServerProcess, free_port, merge

FIXTURE_PLUGINS = str(ROOT / "tests/core/fixture_plugins")
NODE_SCRIPT = Path(__file__).resolve().parent / "node_wire.js"

# Both servers run with these; sub-second pings so the heartbeat tests stay short.
PING_INTERVAL = 0.6
PING_TIMEOUT = 0.4
MAX_PAYLOAD = 1_000_000  # Node's default maxHttpBufferSize, and the same message limit


@dataclass
class WireServer:
    kind: str  # "python" or "node"
    url: str


class NodeServer:
    """node tests/core/sio/node_wire.js on a free port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"node-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15) -> "NodeServer":
        if not (ROOT / "bench/node/node_modules/socket.io").is_dir():
            pytest.fail("the Node reference server is not installed: run `cd bench/node && npm ci`")
        env = {**os.environ, "PING_INTERVAL": str(round(PING_INTERVAL * 1000)),
               "PING_TIMEOUT": str(round(PING_TIMEOUT * 1000)), "MAX_HTTP_BUFFER_SIZE": str(MAX_PAYLOAD)}
        env.pop("REDIS_URL", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["node", str(NODE_SCRIPT), str(self.port)], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"node server not ready after {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._log.close()


def python_config(**server) -> dict:
    """The Python server's config for these tests (the wire_probe plugin is Node's hooks)."""
    return merge(BASE_CONFIG, {
        "server": {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT,
                   "max_payload": MAX_PAYLOAD, **server},
        "plugin_dirs": [FIXTURE_PLUGINS],
        "plugins": {"wire_probe": {"enabled": True}, "chat_log": None},
    })


@pytest.fixture(scope="module", params=["python", "node"])
def wire_server(request, tmp_path_factory):
    """This project's server, then Node's, with the same settings and hooks."""
    workdir = tmp_path_factory.mktemp(f"wire-{request.param}")
    if request.param == "node":
        if shutil.which("node") is None:
            pytest.skip("node is not installed: the reference side is not measured")
        proc = NodeServer(workdir).start()
    else:
        proc = ServerProcess(python_config(), workdir).start()
    yield WireServer(request.param, proc.url)
    proc.stop()

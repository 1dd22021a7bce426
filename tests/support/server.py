"""Run the real server (`python run.py`) on a free port with a config written for the test."""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

# What the tests run with unless they say otherwise: every plugin on, quiet logs, fast pings.
BASE_CONFIG = {
    "server": {"host": "127.0.0.1", "ping_interval": 5, "ping_timeout": 5},
    "backplane": {"kind": "memory"},
    "plugins": {
        "global_chat": {"enabled": True},
        "group_chat": {"enabled": True},
        "chat_log": {"enabled": True, "log_each": False},
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def merge(base: dict, override: dict) -> dict:
    """Deep-merge override into a copy of base (a None value deletes the key)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class ServerProcess:
    """One `python run.py` process; stop() sends SIGTERM and returns how long it took to exit."""

    def __init__(self, config: dict, workdir: Path, port: int | None = None,
                 env: dict | None = None, args: list[str] = (), name: str = "server"):
        self._auto_port = port is None
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / f"{name}-{self.port}.yaml"
        self.log_path = workdir / f"{name}-{self.port}.log"
        self.config_path.write_text(yaml.safe_dump(config))
        self._env = {k: v for k, v in os.environ.items()
                     if not k.startswith("CHAT_") and k not in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT",
                                                                 "HOST", "PORT", "PUBLIC_URL")}
        self._env.update(env or {})
        self._args = list(args)
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True, timeout: float = 20) -> "ServerProcess":
        for attempt in range(3):
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [sys.executable, "run.py", "--config", str(self.config_path), "--port", str(self.port),
                 *self._args],
                cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError:
                # free_port() cannot reserve the port: on a busy machine another process may
                # take it first. A port we chose is chosen again; any other failure is real.
                lost_race = "already in use" in self.logs()[logged:]  # run.py: "port N ... is already in use"
                if not (self._auto_port and lost_race) or attempt == 2:
                    raise
                self._log.close()
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> float:
        """Signal the process and wait; returns seconds until it exited."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        return time.monotonic() - started

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run_once(config: dict, workdir: Path, args: list[str] = (), timeout: float = 20) -> subprocess.CompletedProcess:
    """Run the server expecting it to exit by itself (config errors); returns the finished process."""
    path = workdir / f"once-{free_port()}.yaml"
    path.write_text(yaml.safe_dump(config) if isinstance(config, dict) else config)
    return subprocess.run([sys.executable, "run.py", "--config", str(path), "--port", str(free_port()), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def run_cli(args: list[str] = (), env: dict | None = None, cwd: Path | None = None,
            timeout: float = 20) -> subprocess.CompletedProcess:
    """`python <project>/run.py ARGS` as a user types it (no --config/--port added), expected to exit."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("CHAT_") and k not in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT",
                                                         "HOST", "PORT", "PUBLIC_URL")}
    clean.update(env or {})
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd or ROOT, env=clean,
                          capture_output=True, text=True, timeout=timeout)

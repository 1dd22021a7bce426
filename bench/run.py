"""Side-by-side benchmark: this Python server against the tutorial's Node server (socket.io 4.8).

    .venv/bin/python bench/run.py [--quick] [--only python|node] [--scenario NAME ...] [--json FILE]
                                  [--raw-receivers]

    (or `make bench BENCH_ARGS=--quick`)

Each scenario starts a fresh server process pinned to CPU 0 (`taskset -c 0`) and drives it with
bench/node/loadgen.js (socket.io-client 4.8.4, websocket only) pinned to CPU 1. Python and Node run
the same scenario back to back, so noise on a shared machine hits both alike. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "bench" / "node"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
IMPLS = ("python", "node")

# The Python server's abuse limits would refuse a load generator whose clients all come from
# 127.0.0.1 (50 connections per address, 20 messages/s per connection); the Node tutorial has none.
PYTHON_CONFIG = {
    "server": {
        "host": "127.0.0.1",
        "log_level": "WARNING",
        "access_log": False,
        "max_connections_per_address": 100000,
        "rate_limit": {"messages_per_second": 1000000.0, "burst": 1000000, "disconnect_after": 0},
        "connect_timeout": 120.0,
    },
    "backplane": {"kind": "memory"},
    "plugins": {
        "global_chat": {"enabled": True},
        "group_chat": {"enabled": True},
        "chat_log": {"enabled": False},
    },
}


def search(start: int, duration_ms: int, max_steps: int, bisect: int, retries: int = 1) -> dict:
    """Double the offered rate from `start` deliveries/s until a step fails (a failed step is
    retried `retries` times), then bisect `bisect` times between the best pass and the fail."""
    return {"startDeliveries": start, "durationMs": duration_ms, "maxSteps": max_steps,
            "bisect": bisect, "maxDeliveries": 2_000_000, "retries": retries}


# name -> loadgen spec (full run, quick run). Rates are in deliveries/s (messages x recipients).
SCENARIOS = {
    "fanout100": (
        {"scenario": "fanout", "clients": 100, "senders": 4, "search": search(5000, 5000, 10, 2)},
        {"scenario": "fanout", "clients": 100, "senders": 4, "search": search(10000, 1000, 3, 0, 0)},
    ),
    "fanout1000": (
        {"scenario": "fanout", "clients": 1000, "senders": 4, "search": search(5000, 5000, 10, 2)},
        {"scenario": "fanout", "clients": 300, "senders": 4, "search": search(10000, 1000, 3, 0, 0)},
    ),
    "rooms": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2)},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0)},
    ),
    "idle": (
        {"scenario": "idle", "clients": 1000, "settleMs": 3000},
        {"scenario": "idle", "clients": 300, "settleMs": 1500},
    ),
    "connect": (
        {"scenario": "connect", "clients": 5000, "concurrency": 100},
        {"scenario": "connect", "clients": 1000, "concurrency": 100},
    ),
    "cross": (
        {"scenario": "cross", "receivers": 10, "rate": 100, "durationMs": 10000},
        {"scenario": "cross", "receivers": 5, "rate": 50, "durationMs": 2000},
    ),
    # What connection-state recovery costs per delivered message: the same room traffic with it
    # off, and on with every client asking for offsets (auth {recover: true}). Python only: the
    # Node server of the tutorial has no recovery configured.
    "recovery-off": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "python_config": {"server": {"connection_state_recovery": {"enabled": False}}}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "python_config": {"server": {"connection_state_recovery": {"enabled": False}}}},
    ),
    "recovery-on": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "auth": {"recover": True}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "auth": {"recover": True}},
    ),
    # The rooms scenario again with the presence and typing plugins on (Python only: the Node
    # tutorial has neither); a note compares it with "rooms" (the goal: within 10 %).
    "rooms_presence": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "python_config": {"plugins": {"presence": {"enabled": True}, "typing": {"enabled": True}}}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "python_config": {"plugins": {"presence": {"enabled": True}, "typing": {"enabled": True}}}},
    ),
    # What the history plugin, and history with the archive (PostgreSQL: BENCH_DATABASE_URL, or
    # a scratch database on 127.0.0.1:5432), cost on the rooms traffic; compare with "rooms"
    # (both off). Python only; the goal is within 10 %.
    "history-on": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "python_config": {"plugins": {"history": {"enabled": True}}}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "python_config": {"plugins": {"history": {"enabled": True}}}},
    ),
    "history-archive-on": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "python_config": {"plugins": {"history": {"enabled": True}, "archive": {"enabled": True}}}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "python_config": {"plugins": {"history": {"enabled": True}, "archive": {"enabled": True}}}},
    ),
    # What /metrics costs: the rooms traffic with prometheus_client's counters off and on.
    "metrics-off": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2),
         "python_config": {"server": {"metrics": False}}},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0),
         "python_config": {"server": {"metrics": False}}},
    ),
    "metrics-on": (
        {"scenario": "rooms", "rooms": 50, "members": 10, "search": search(5000, 5000, 10, 2)},
        {"scenario": "rooms", "rooms": 10, "members": 10, "search": search(5000, 1000, 3, 0, 0)},
    ),
}
# Scenarios only this server runs.
PYTHON_ONLY = {"recovery-off", "recovery-on", "rooms_presence", "history-on", "history-archive-on",
               "metrics-off", "metrics-on"}
ROOMS_LIKE = {"rooms": "", "rooms_presence": " + presence", "history-on": ", history on", "history-archive-on": ", history + archive on"}
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FEATURE_COSTS = (("recovery-off", "recovery-on", "connection-state recovery", 10),
                 ("metrics-off", "metrics-on", "metrics", 5))


def merged(base: dict, override: dict) -> dict:
    """base with override's keys deep-merged in."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# ---- processes ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if PINNING else []


def clean_env(extra: dict | None = None) -> dict:
    """The environment without anything that would reconfigure the servers behind our back."""
    drop = {"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "HOST", "PORT", "PUBLIC_URL"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_") and k not in drop}
    env.update(extra or {})
    return env


@dataclass
class Proc:
    name: str
    argv: list[str]
    workdir: Path
    env: dict = field(default_factory=clean_env)
    cwd: Path = ROOT
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> "Proc":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self, tail: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self._log.close()


def wait_http(proc: Proc, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.logs()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{proc.name} not answering on port {port} after {timeout}s:\n{proc.logs()}")


def start_server(impl: str, workdir: Path, tag: str, redis_url: str | None = None,
                 python_config: dict | None = None) -> tuple[Proc, str]:
    port = free_port()
    name = f"{impl}-{tag}-{port}"
    if impl == "python":
        config = merged(json.loads(json.dumps(PYTHON_CONFIG)), python_config or {})
        if redis_url:
            config["backplane"] = {"kind": "redis", "redis": {"url": redis_url}}
        config_path = workdir / f"{name}.yaml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        argv = [*pin(0), str(VENV_PYTHON), "run.py", "--config", str(config_path), "--port", str(port)]
        proc = Proc(name, argv, workdir)
    else:
        argv = [*pin(0), "node", str(NODE_DIR / "server.js"), str(port)]
        proc = Proc(name, argv, workdir, env=clean_env({"REDIS_URL": redis_url} if redis_url else {}))
    proc.start()
    try:
        wait_http(proc, port)
    except BaseException:
        proc.stop()
        raise
    return proc, f"http://127.0.0.1:{port}"


def start_redis(workdir: Path) -> tuple[Proc, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = Proc(f"redis-{port}", [*pin(0), binary, "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--daemonize", "no",
                                  "--loglevel", "warning"], workdir).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.stop()
    raise TimeoutError(f"redis-server on port {port} did not start:\n{proc.logs()}")


def run_loadgen(spec: dict, timeout: float) -> dict:
    argv = [*pin(1), "node", str(NODE_DIR / "loadgen.js"), json.dumps(spec)]
    try:
        done = subprocess.run(argv, cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=None, text=True,
                              timeout=timeout, env=clean_env())
    except subprocess.TimeoutExpired:
        return {"error": f"loadgen timed out after {timeout:.0f}s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"loadgen exited with {done.returncode} and no result"}
    return json.loads(lines[-1])


def run_scenario(name: str, impl: str, quick: bool, workdir: Path, raw: bool = False) -> dict:
    spec = dict(SCENARIOS[name][1 if quick else 0])
    spec.update(label=f"{impl} {name}", clkTck=os.sysconf("SC_CLK_TCK"), rawReceivers=raw,
                serverCpu=0 if PINNING else None, loadgenCpu=1 if PINNING else None)
    spec.setdefault("concurrency", 100)
    python_config = spec.pop("python_config", None)
    procs: list[Proc] = []
    cleanups: list[Callable[[], None]] = []
    try:
        archive = (python_config or {}).get("plugins", {}).get("archive")
        if archive is not None and not archive.get("dsn"):
            dsn, drop = archive_database()
            cleanups.append(drop)
            python_config = merged(python_config, {"plugins": {"archive": {"dsn": dsn}}})
        if spec["scenario"] == "cross":
            redis, redis_url = start_redis(workdir)
            procs.append(redis)
            urls = []
            for i in range(2):
                server, url = start_server(impl, workdir, f"{name}{i}", redis_url)
                procs.append(server)
                urls.append(url)
            servers = procs[1:]
        else:
            server, url = start_server(impl, workdir, name, python_config=python_config)
            procs.append(server)
            urls, servers = [url], [server]
        spec.update(urls=urls, pids=[s.pid for s in servers])
        result = run_loadgen(spec, timeout=900)
        crashed = [s.name for s in servers if not s.alive()]
        if crashed:
            result["server_crashed"] = crashed
            result.setdefault("error", f"server exited during the run: {crashed}")
        if "error" in result:
            result["server_logs"] = {s.name: s.logs() for s in servers}
        else:
            warnings = [line for s in servers for line in s.logs().splitlines()
                        if " WARNING " in line or " ERROR " in line or "Error" in line]
            if warnings:
                result["server_warnings"] = warnings[:20]
        return result
    except Exception as exc:  # a server that does not start: report it in the table, go on
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        for proc in reversed(procs):
            proc.stop()
        for cleanup in cleanups:
            cleanup()


def archive_database() -> tuple[str, Callable[[], None]]:
    """(DSN, drop): BENCH_DATABASE_URL as is, or a scratch database created now and dropped after."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"], lambda: None
    import asyncio

    import asyncpg

    name = f"chat_bench_{os.getpid()}_{free_port()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name, \
        lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---- the table --------------------------------------------------------------------------------------

def _get(result: dict | None, *path):
    for key in path:
        if not isinstance(result, dict) or result.get(key) is None:
            return None
        result = result[key]
    return result


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def _cores(r: dict) -> str:
    """Server core / loadgen core: how busy, how much in interrupts, how much other processes took."""
    return (f"cores {_pct(r.get('server_core_busy'))}/{_pct(r.get('loadgen_core_busy'))} busy "
            f"(irq {_pct(r.get('server_core_irq'))}/{_pct(r.get('loadgen_core_irq'))}, "
            f"others {_pct(r.get('server_core_others'))}/{_pct(r.get('loadgen_core_others'))})")


def limit_flag(r: dict | None) -> str:
    """What capped a measurement, in a word: server (what we want), loadgen, contended, ..."""
    if not r:
        return ""
    if "error" in r:
        return "ERROR"
    if "steps" in r:
        if r.get("best") is None:
            return "no pass"
        if r.get("fail_above") is None:
            return "LOADGEN" if r["best"].get("loadgen_cpu_frac", 0) >= 0.9 else "not reached"
        why = r["fail_above"].get("limit") or ""
        if why != "server" and r["best"].get("loadgen_cpu_frac", 0) >= 0.9:
            why = "loadgen"  # the loadgen was already saturated at the best passing rate
    else:
        why = r.get("limit") or ""
    return {"loadgen": "LOADGEN", "loadgen?": "loadgen?"}.get(why, why.split(" (")[0])


def throughput_rows(label: str, res: dict) -> list[tuple]:
    rows = []
    for r in res.values():  # the busiest step, pass or fail: CPU per delivery with fixed costs amortised
        if r and r.get("steps"):
            r["peak"] = max(r["steps"], key=lambda step: step["delivered_per_s"])
    metrics = [("delivered msgs/s", ("best", "delivered_per_s"), 0),
               ("server CPU us/delivery", ("best", "cpu_us_per_delivery"), 1),
               ("server CPU us/delivery, busiest step", ("peak", "cpu_us_per_delivery"), 1),
               ("p50 latency ms (at that rate)", ("best", "p50_ms"), 1),
               ("p99 latency ms (at that rate)", ("best", "p99_ms"), 1)]
    for n, (metric, path, digits) in enumerate(metrics):
        flags = " / ".join(limit_flag(res.get(i)) or "-" for i in IMPLS) if n == 0 else ""
        rows.append((f"{label}: {metric}", {i: _get(res.get(i), *path) for i in IMPLS}, digits, flags))
    return rows


def equal_load(res: dict) -> tuple[int, dict] | None:
    """The highest offered rate that both servers passed, and each one's step at that rate.

    Both searches start at the same rate and double, so their steps meet at the same rates;
    comparing there is the issue's "latency at equal offered load".
    """
    passed = {}
    for impl in IMPLS:
        steps = _get(res.get(impl), "steps")
        if not steps:
            return None
        passed[impl] = {round(step["offered_deliveries_s"]): step for step in steps if step["pass"]}
    common = set.intersection(*(set(p) for p in passed.values()))
    if not common:
        return None
    rate = max(common)
    return rate, {impl: passed[impl][rate] for impl in IMPLS}


def equal_load_rows(label: str, res: dict) -> list[tuple]:
    found = equal_load(res)
    if found is None:
        return []
    rate, steps = found
    return [(f"{label}: {metric} at equal load ({rate:,} deliv/s)",
             {i: steps[i].get(key) for i in IMPLS}, 1, "")
            for metric, key in (("server CPU us/delivery", "cpu_us_per_delivery"),
                                ("p50 latency ms", "p50_ms"), ("p99 latency ms", "p99_ms"))]


def feature_costs(results: dict) -> list[str]:
    """Server CPU per delivery with each feature off and on, at the highest rate both passed."""
    lines = []
    for off_name, on_name, what, goal in FEATURE_COSTS:
        off, on = (_get(results.get(n), "python", "steps") for n in (off_name, on_name))
        if not off or not on:
            continue
        passed = [{round(s["offered_deliveries_s"]): s for s in steps if s["pass"]} for steps in (off, on)]
        common = set(passed[0]) & set(passed[1])
        if not common:
            lines.append(f"{what} cost: no offered rate passed both with it off and on")
            continue
        rate = max(common)
        a, b = passed[0][rate]["cpu_us_per_delivery"], passed[1][rate]["cpu_us_per_delivery"]
        lines.append(f"{what} cost at {rate:,} deliveries/s: server CPU {a:.1f} us/delivery off, "
                     f"{b:.1f} on ({(b - a) / a * 100:+.0f} %; the goal is at most +{goal} %)")
    return lines


def scenario_label(name: str, res: dict) -> str:
    any_res = next((r for r in res.values() if r and "error" not in r), {})
    if name.startswith("fanout"):
        return f"fan-out {any_res.get('clients', name[6:])} clients"
    if name in ROOMS_LIKE:
        return f"rooms {any_res.get('rooms', '?')}x{any_res.get('members', '?')}{ROOMS_LIKE[name]}"
    return name


def notes_for(name: str, impl: str, r: dict | None) -> list[str]:
    if r is None:
        return []
    out = []
    if "error" in r:
        return [f"{impl}: ERROR {r['error'].splitlines()[0][:160]}"]
    if r.get("unexpected_disconnects"):
        out.append(f"{impl}: {r['unexpected_disconnects']} unexpected disconnects {r.get('disconnect_reasons')}")
    if r.get("ws_extensions"):
        out.append(f"{impl}: websocket extensions negotiated: {r['ws_extensions']}")
    if r.get("misrouted"):
        out.append(f"{impl}: {r['misrouted']} room messages reached a client outside the room")
    if "steps" in r:
        never = sum(step.get("never_delivered", 0) for step in r["steps"])
        if never:
            out.append(f"{impl}: {never} deliveries never arrived (real loss, not lateness)")
        best, fail = r.get("best"), r.get("fail_above")
        if best is None:
            out.append(f"{impl}: no rate passed (p99 <= 200 ms, no loss)")
        if fail is None and best is not None:
            out.append(f"{impl}: ceiling not reached (stopped at the step limit)")
        elif fail is not None:
            why = fail.get("limit")
            detail = (f"fails at {_fmt(fail['offered_deliveries_s'], 0)}/s offered "
                      f"({_fmt(fail['delivered_per_s'], 0)} delivered, p99 {_fmt(fail['p99_ms'], 0)} ms, "
                      f"lost {fail['lost']}); server cpu {_pct(fail['server_cpu_frac'])}, loadgen cpu "
                      f"{_pct(fail['loadgen_cpu_frac'])}, {_cores(fail)}")
            if why == "loadgen":
                out.append(f"{impl}: LOADGEN-BOUND: {detail}")
            elif why == "loadgen?":
                out.append(f"{impl}: POSSIBLY LOADGEN-BOUND (nothing saturated, delivered < offered): {detail}")
            else:
                out.append(f"{impl}: limited by {why}: {detail}")
        if best is not None and best.get("loadgen_cpu_frac", 0) >= 0.9:
            out.append(f"{impl}: loadgen cpu {best['loadgen_cpu_frac']:.0%} at the best rate (loadgen-bound)")
    if name == "connect":
        if r.get("failed"):
            out.append(f"{impl}: {r['failed']} connections failed {r.get('errors')}")
        if r.get("limit") == "loadgen":
            out.append(f"{impl}: LOADGEN-BOUND connecting (loadgen cpu {_pct(r['loadgen_cpu_frac'])})")
        out.append(f"{impl}: {_fmt(r.get('connects_per_s'), 0)} conn/s ({r.get('concurrency')} in flight), "
                   f"connect p50/p99 {_fmt(r.get('connect_p50_ms'), 0)}/{_fmt(r.get('connect_p99_ms'), 0)} ms, "
                   f"server cpu {_pct(r.get('server_cpu_frac'))}, loadgen cpu {_pct(r.get('loadgen_cpu_frac'))}, "
                   f"{_cores(r)}; limited by {r.get('limit')}")
    if name == "cross":
        if r.get("lost"):
            out.append(f"{impl}: {r['lost']} of {r['expected']} cross-process deliveries lost")
        local = r.get("local_latency_ms") or {}
        out.append(f"{impl}: same-process p50/p99 {_fmt(local.get('p50'), 1)}/{_fmt(local.get('p99'), 1)} ms")
    for warning in r.get("server_warnings", [])[:3]:
        out.append(f"{impl} server log: {warning[:160]}")
    return out


def build_rows(results: dict) -> tuple[list[tuple], list[str]]:
    rows: list[tuple] = []
    notes: list[str] = []
    for name, res in results.items():
        label = scenario_label(name, res)
        if name.startswith("fanout") or name in ROOMS_LIKE:
            rows += throughput_rows(label, res) + equal_load_rows(label, res)
        elif name == "idle":
            rows.append(("idle RSS MB per 1000 connections",
                         {i: _get(res.get(i), "rss_mb_per_1000") for i in IMPLS}, 1, ""))
        elif name == "connect":
            n = next((r.get("clients") for r in res.values() if r and r.get("clients")), "?")
            flags = " / ".join(limit_flag(res.get(i)) or "-" for i in IMPLS)
            rows.append((f"connect time s for {n} clients",
                         {i: _get(res.get(i), "elapsed_s") for i in IMPLS}, 2, flags))
        elif name == "cross":
            rate = next((r.get("rate") for r in res.values() if r and r.get("rate")), "?")
            rows.append((f"cross-process p50 ms (redis, {rate} msgs/s)",
                         {i: _get(res.get(i), "p50_ms") for i in IMPLS}, 1, ""))
            rows.append((f"cross-process p99 ms (redis, {rate} msgs/s)",
                         {i: _get(res.get(i), "p99_ms") for i in IMPLS}, 1, ""))
        for impl in IMPLS:
            notes += [f"[{label}] {n}" for n in notes_for(name, impl, res.get(impl))]
    notes += presence_notes(results)
    return rows, notes


def presence_notes(results: dict) -> list[str]:
    """Python's rooms numbers with presence on against off (the goal: within 10 %)."""
    on, off = _get(results, "rooms_presence", "python"), _get(results, "rooms", "python")
    if not on or not off or "error" in on or "error" in off:
        return []
    parts = []
    for metric, path in (("delivered msgs/s", ("best", "delivered_per_s")),
                         ("server CPU us/delivery", ("best", "cpu_us_per_delivery")),
                         ("p99 ms", ("best", "p99_ms"))):
        a, b = _get(on, *path), _get(off, *path)
        if a is not None and b:
            parts.append(f"{metric} {_fmt(a, 1)} vs {_fmt(b, 1)} ({a / b - 1:+.0%})")
    return [f"[presence] python rooms with presence on vs off: {'; '.join(parts)}"] if parts else []


def print_table(results: dict, out=sys.stdout) -> None:
    rows, notes = build_rows(results)
    header = ("metric", "python", "node", "python/node", "limited by (python / node)")
    table = [header]
    for metric, values, digits, flags in rows:
        py, nd = values["python"], values["node"]
        ratio = f"{py / nd:.2f}" if py is not None and nd else "-"
        table.append((metric, _fmt(py, digits), _fmt(nd, digits), ratio, flags))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    line = "-+-".join("-" * w for w in widths)
    print(file=out)
    for n, row in enumerate(table):
        cells = [cell.ljust(widths[i]) if i in (0, 4) else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        print(" | ".join(cells).rstrip(), file=out)
        if n == 0:
            print(line, file=out)
    print("python/node > 1: Python has more of it (better for msgs/s; worse for CPU, latency, RSS, "
          "time). 'limited by' is what capped the rate: server is the wanted answer; see notes.", file=out)
    if notes:
        print("\nnotes:", file=out)
        for note in notes:
            print(f"  {note}", file=out)


# ---- main ---------------------------------------------------------------------------------------

def raise_fd_limit() -> None:
    """Thousands of sockets in the loadgen and in the server: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 12000:
        print(f"warning: open files limit is {want}; 5000 connections need ~5100 per process",
              file=sys.stderr)


def check_prerequisites() -> None:
    missing = []
    if not VENV_PYTHON.exists():
        missing.append(f"{VENV_PYTHON} (run `make setup`)")
    if not (NODE_DIR / "node_modules" / "socket.io").exists():
        missing.append("bench/node/node_modules (run `cd bench/node && npm ci`)")
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        sys.exit("missing: " + ", ".join(missing))
    if (ROOT / ".env").exists():
        print("warning: .env in the repository root overrides the Python server's bench config",
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    global PINNING
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke run (< 2 minutes)")
    parser.add_argument("--only", choices=IMPLS, help="run one implementation only")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help=f"run only these (repeatable; a prefix matches): {', '.join(SCENARIOS)}")
    parser.add_argument("--json", type=Path, help="also write every number (all steps) to this file")
    parser.add_argument("--raw-receivers", action="store_true",
                        help="clients that only listen use a bare ws Engine.IO client instead of "
                             "socket.io-client (far less loadgen CPU per message); senders stay "
                             "socket.io-client")
    args = parser.parse_args(argv)

    names = list(SCENARIOS)
    if args.scenario:
        names = [n for n in SCENARIOS if any(n.startswith(s) for s in args.scenario)]
        if not names:
            parser.error(f"no scenario matches {args.scenario}; known: {', '.join(SCENARIOS)}")
    impls = [args.only] if args.only else list(IMPLS)

    check_prerequisites()
    raise_fd_limit()
    PINNING = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if not PINNING:
        print("warning: no taskset or a single CPU: server and loadgen are not pinned", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    receivers = "bare ws receivers" if args.raw_receivers else "socket.io-client everywhere"
    print(f"bench: {'quick' if args.quick else 'full'} run of {', '.join(names)} on {', '.join(impls)}; "
          f"server on CPU 0, loadgen on CPU 1 ({receivers}); logs in {workdir}", file=sys.stderr)

    started = time.monotonic()
    results: dict[str, dict[str, dict]] = {}
    for name in names:
        results[name] = {}
        for impl in impls:
            if name in PYTHON_ONLY and impl != "python":
                continue
            t0 = time.monotonic()
            print(f"- {name} / {impl}", file=sys.stderr)
            results[name][impl] = run_scenario(name, impl, args.quick, workdir, args.raw_receivers)
            print(f"  done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    elapsed = time.monotonic() - started

    print_table(results)
    for line in feature_costs(results):
        print(line)
    print(f"\n{'quick' if args.quick else 'full'} run ({receivers}) took {elapsed:.0f} s; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    json_path = args.json or workdir / "results.json"
    json_path.write_text(json.dumps({"quick": args.quick, "raw_receivers": args.raw_receivers,
                                     "elapsed_s": elapsed, "results": results}, indent=1))
    print(f"all numbers: {json_path}")
    return 1 if any("error" in r for res in results.values() for r in res.values()) else 0


PINNING = True

if __name__ == "__main__":
    sys.exit(main())

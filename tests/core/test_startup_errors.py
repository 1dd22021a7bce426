"""Common start-up mistakes end in one clear line naming where the bad value came from, and exit 2."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from tests.support.server import ROOT, free_port, run_cli, run_once


def one_clear_error(result: subprocess.CompletedProcess) -> str:
    """The process exited 2 with a short message and no traceback; returns stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert 0 < len(result.stderr.strip().splitlines()) <= 3, result.stderr
    return result.stderr


def write_config(folder, data: dict) -> str:
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


# Item 6: port in use, a host typo, REDIS_PORT=abc ------------------------------------------


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = one_clear_error(run_cli(["--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path))
    assert f"port {port} on 127.0.0.1 is already in use" in err


def test_host_typo_is_one_line(tmp_path):
    err = one_clear_error(run_cli(["--host", "lcoalhost.invalid", "--port", str(free_port())], cwd=tmp_path))
    assert "server.host: cannot listen on 'lcoalhost.invalid'" in err


def test_redis_port_not_a_number_is_one_line(tmp_path):
    err = one_clear_error(run_cli(["--port", str(free_port())], env={"REDIS_HOST": "127.0.0.1",
                                                                    "REDIS_PORT": "abc"}, cwd=tmp_path))
    assert "REDIS_PORT (environment): REDIS_PORT: expected a port number, not 'abc'" in err


def test_redis_url_with_a_bad_port_is_one_line(tmp_path):
    err = one_clear_error(run_cli(["--port", str(free_port())], env={"REDIS_URL": "redis://h:abc/0"},
                                  cwd=tmp_path))
    assert "REDIS_URL (environment): backplane.redis.url: 'redis://h:abc/0': the port is not a number" in err


# Item 7: each value's source is named ---------------------------------------------------------


def test_port_from_the_environment_is_blamed_on_the_environment(tmp_path):
    err = one_clear_error(run_cli([], env={"PORT": "abc"}, cwd=tmp_path))
    assert "PORT (environment): server.port: expected an integer" in err
    assert "config.yaml" not in err


def test_port_from_dotenv_names_its_line(tmp_path):
    (tmp_path / ".env").write_text("# tutorial settings\nREDIS_HOST=127.0.0.1\nPORT=abc\n")
    err = one_clear_error(run_cli([], cwd=tmp_path))
    assert ".env line 3: server.port: expected an integer" in err


def test_port_from_the_command_line_is_blamed_on_the_flag(tmp_path):
    err = one_clear_error(run_cli(["--port", "abc"], cwd=tmp_path))
    assert "--port: server.port: expected an integer" in err


def test_misspelt_section_is_blamed_on_the_variable(tmp_path):
    err = one_clear_error(run_cli(["--port", str(free_port())], env={"CHAT_SERVR__PORT": "3001"},
                                  cwd=tmp_path))
    assert "CHAT_SERVR__PORT (environment): servr: unknown key" in err


def test_file_values_are_blamed_on_their_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  host: 127.0.0.1\n  port: many\n")
    err = one_clear_error(run_cli(["--config", str(path)], cwd=tmp_path))
    assert f"{path} line 3: server.port: expected an integer" in err


def test_stray_single_underscore_variable_does_not_stop_the_server(start_server):
    proc = start_server(env={"CHAT_SERVER_PORT": "3001"})
    assert urllib.request.urlopen(proc.url + "/chat", timeout=5).status == 200
    assert ("CHAT_SERVER_PORT (environment): ignored: not a config key (sections and keys are "
            "separated by two underscores); did you mean CHAT_SERVER__PORT?") in proc.logs()


# Item 8: values that were accepted although they cannot work ----------------------------------


@pytest.mark.parametrize("source", ["file", "--public-url", "PUBLIC_URL"])
def test_public_url_without_a_scheme_is_refused(tmp_path, source):
    if source == "file":
        result = run_once({"server": {"public_url": "localhost:3000"}}, tmp_path)
    elif source == "--public-url":
        result = run_once({}, tmp_path, args=["--public-url", "localhost:3000"])
    else:
        result = run_cli(["--config", write_config(tmp_path, {}), "--port", str(free_port())],
                         env={"PUBLIC_URL": "localhost:3000"}, cwd=tmp_path)
    err = one_clear_error(result)
    assert "server.public_url: 'localhost:3000' needs a scheme and a host, e.g. http://localhost:3000" in err
    if source != "file":
        assert f"{source}" in err


def test_config_without_a_plugins_section_serves_the_default_plugins(start_server):
    proc = start_server(overrides={"plugins": None})
    for path in ("/chat", "/groupchat"):
        assert urllib.request.urlopen(proc.url + path, timeout=5).status == 200
    assert "plugins: global_chat, group_chat" in proc.logs()  # those of the shipped config.yaml


def handshake_status(url: str, origin: str) -> int:
    request = urllib.request.Request(url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_cors_allowed_origins_accepts_a_single_star(start_server):
    proc = start_server(overrides={"server": {"cors_allowed_origins": "*"}})
    assert handshake_status(proc.url, "http://elsewhere.example") == 200


def test_foreign_origin_is_still_refused_by_default(start_server):
    proc = start_server()
    assert handshake_status(proc.url, "http://elsewhere.example") == 400


# Item 10: HEAD, another working folder, Sanic's --dev hint ---------------------------------------


@pytest.mark.parametrize("path", ["/", "/chat", "/chat.html", "/groupchat", "/healthz",
                                  "/socket.io/socket.io.js"])
def test_head_is_answered_like_get(server, path):
    with urllib.request.urlopen(urllib.request.Request(server.url + path, method="HEAD"), timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == b""


def test_runs_from_another_folder_with_the_project_config(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env={k: v for k, v in os.environ.items() if not k.startswith("CHAT_")})
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/chat", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "server not ready"
                time.sleep(0.1)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_no_suggestion_of_a_dev_flag_run_py_does_not_have(tmp_path):
    # Sanic prints its production-mode hint only on a terminal: give the server one.
    controller, terminal = pty.openpty()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "--config", write_config(tmp_path, {}),
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    try:
        deadline = time.monotonic() + 20
        while b"Worker ready" not in output:
            assert time.monotonic() < deadline and proc.poll() is None, output.decode(errors="replace")
            if select.select([controller], [], [], 0.2)[0]:
                output += os.read(controller, 65536)
    finally:
        proc.terminate()
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:  # keep reading: a full pty blocks it
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    output += os.read(controller, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        os.close(controller)
    assert b"--dev" not in output, output.decode(errors="replace")

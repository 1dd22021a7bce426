"""Configuration: every problem reported with its path in one run, and the override order file < .env < env < CLI."""

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from core.host.cli import cli_overrides, parse_args
from core.host.config import (ConfigError, Override, build_config, environment_overrides, load_config,
                              read_environment)
from tests.support.server import run_once

# One broken config with a problem of each kind, and the line each must produce.
BROKEN = {
    "colour": "blue",
    "server": {"host": "127.0.0.1", "colour": "blue"},
    "backplane": {"kind": "carrier_pigeon"},
    "plugins": {
        "global_chat": {"colour": "blue"},
        "group_chat": {"max_rooms_per_connection": "x", "welcome_notice": "Hi {who}"},
        "no_such_plugin": {},
    },
}
EXPECTED_PROBLEMS = [
    "colour: unknown key",
    "server.colour: unknown key",
    "backplane.kind: unknown backplane 'carrier_pigeon'",
    "plugins.global_chat.colour: unknown key",
    "plugins.group_chat.max_rooms_per_connection: expected an integer",
    "plugins.group_chat.welcome_notice:",
    "plugins.no_such_plugin: unknown plugin",
]

# A config file with the shipped plugins, for the override tests.
PLUGINS = {"plugins": {"global_chat": {"enabled": True}, "group_chat": {"enabled": True}}}


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    return info.value.problems


@pytest.fixture
def config_file(tmp_path):
    """config_file({...}) -> path of a YAML file holding that config."""

    def write(data: dict) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


# Problems, one at a time (build_config) ------------------------------------------------------


def test_unknown_plugin_is_named():
    problems = problems_of({"plugins": {"no_such_plugin": {}}})
    assert problems == ["plugins.no_such_plugin: unknown plugin (no folder plugins/no_such_plugin/, "
                        "no installed chat.plugins entry point 'no_such_plugin')"]


def test_unknown_top_level_key():
    assert problems_of({"colour": "blue"}) == ["colour: unknown key"]


def test_unknown_key_in_server():
    assert problems_of({"server": {"colour": "blue"}}) == ["server.colour: unknown key"]


def test_unknown_key_inside_a_plugin():
    problems = problems_of({"plugins": {"global_chat": {"colour": "blue"}}})
    assert problems == ["plugins.global_chat.colour: unknown key"]


def test_wrong_type_in_a_plugin():
    problems = problems_of({"plugins": {"group_chat": {"max_rooms_per_connection": "x"}}})
    assert problems == ["plugins.group_chat.max_rooms_per_connection: expected an integer"]


def test_wrong_type_in_server():
    assert problems_of({"server": {"port": "high"}}) == ["server.port: expected an integer"]


def test_unknown_backplane_kind():
    assert problems_of({"backplane": {"kind": "carrier_pigeon"}}) == [
        "backplane.kind: unknown backplane 'carrier_pigeon'"]


def test_bad_notice_placeholder():
    problems = problems_of({"plugins": {"group_chat": {"welcome_notice": "Hi {who}"}}})
    assert len(problems) == 1
    assert problems[0].startswith("plugins.group_chat.welcome_notice:")
    assert "unknown placeholder 'who'" in problems[0]


def test_unknown_key_in_backplane():
    problems = problems_of({"backplane": {"kind": "memory", "colour": "blue"}})
    assert problems == ["backplane.colour: unknown key (no backplane named 'colour')"]


def test_section_that_is_not_a_mapping():
    assert problems_of({"server": 5}) == ["server: expected a mapping"]
    assert problems_of({"plugins": {"group_chat": "on"}}) == ["plugins.group_chat: expected a mapping"]


def test_enabled_must_be_a_boolean():
    problems = problems_of({"plugins": {"group_chat": {"enabled": "yes"}}})
    assert problems == ["plugins.group_chat.enabled: expected true or false"]


def test_all_problems_listed_together():
    problems = problems_of(BROKEN)
    for expected in EXPECTED_PROBLEMS:
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    assert len(problems) == len(EXPECTED_PROBLEMS)


# Problems, through the real process -------------------------------------------------------------


def test_server_reports_every_problem_and_exits_2(tmp_path):
    result = run_once(BROKEN, tmp_path)
    assert result.returncode == 2
    assert "configuration errors:" in result.stderr
    for expected in EXPECTED_PROBLEMS:
        # Each line names the file and the line the value is on.
        assert re.search(rf"  \S+\.yaml line \d+: {re.escape(expected)}", result.stderr), (expected, result.stderr)
    assert "Traceback" not in result.stderr


def test_server_reports_a_single_problem_and_exits_2(tmp_path):
    result = run_once({"plugins": {"group_chat": {"max_rooms_per_connection": "x"}}}, tmp_path)
    assert result.returncode == 2
    assert "plugins.group_chat.max_rooms_per_connection: expected an integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_yaml_is_a_config_error(tmp_path):
    result = run_once("server: [unclosed\n", tmp_path)
    assert result.returncode == 2
    assert "invalid YAML" in result.stderr
    assert "Traceback" not in result.stderr


# Environment overrides ---------------------------------------------------------------------------


def test_env_var_sets_a_server_key():
    assert environment_overrides({"CHAT_SERVER__PORT": "3001"}) == [
        Override(["server", "port"], 3001, "CHAT_SERVER__PORT (environment)")]
    assert load_config(None, env={"CHAT_SERVER__PORT": "3001"}).server.port == 3001


def test_env_var_disables_a_plugin(config_file):
    path = config_file(PLUGINS)
    enabled = [p.name for p in load_config(path, env={}).plugins]
    assert "group_chat" in enabled
    config = load_config(path, env={"CHAT_PLUGINS__GROUP_CHAT__ENABLED": "false"})
    assert [p.name for p in config.plugins] == ["global_chat"]


def test_env_values_are_read_as_yaml():
    config = load_config(None, env={"CHAT_SERVER__TRANSPORTS": "[websocket]",
                                    "CHAT_SERVER__ACCESS_LOG": "true"})
    assert config.server.transports == ["websocket"]
    assert config.server.access_log is True


def test_env_var_with_wrong_type_is_reported_with_its_path():
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"CHAT_SERVER__PORT": "many"})
    assert info.value.problems == ["server.port: expected an integer"]


def test_short_port_name():
    assert load_config(None, env={"PORT": "4123"}).server.port == 4123


def test_short_host_and_public_url_names():
    config = load_config(None, env={"HOST": "127.0.0.9", "PUBLIC_URL": "http://chat.example"})
    assert config.server.host == "127.0.0.9"
    assert config.server.public_url == "http://chat.example"


def test_chat_prefixed_name_beats_short_name():
    assert load_config(None, env={"PORT": "4123", "CHAT_SERVER__PORT": "4124"}).server.port == 4124


def test_redis_host_and_port_set_the_redis_url():
    assert environment_overrides({"REDIS_HOST": "redis.example", "REDIS_PORT": "6380"}) == [
        Override(["backplane", "redis", "url"], "redis://redis.example:6380/0",
                 "REDIS_HOST (environment), REDIS_PORT (environment)")]


def test_redis_host_and_port_reach_the_redis_backplane():
    pytest.importorskip("core.backplane.redis")
    config = load_config(None, env={"REDIS_HOST": "redis.example", "REDIS_PORT": "6380",
                                    "CHAT_BACKPLANE__KIND": "redis"})
    assert config.backplane.kind == "redis"
    assert config.backplane.config.url == "redis://redis.example:6380/0"


def test_dotenv_values_are_used(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAT_SERVER__PORT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("CHAT_SERVER__PORT=4001\n")
    assert load_config(None, env=read_environment(env_file)).server.port == 4001


def test_real_environment_beats_dotenv(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("CHAT_SERVER__PORT=4001\nCHAT_SERVER__HOST=10.0.0.1\n")
    monkeypatch.setenv("CHAT_SERVER__PORT", "4002")
    monkeypatch.delenv("CHAT_SERVER__HOST", raising=False)
    config = load_config(None, env=read_environment(env_file))
    assert config.server.port == 4002
    assert config.server.host == "10.0.0.1"


def test_env_beats_config_file(config_file):
    path = config_file({"server": {"port": 5001}})
    assert load_config(path, env={}).server.port == 5001
    assert load_config(path, env={"CHAT_SERVER__PORT": "5002"}).server.port == 5002


def test_command_line_beats_env_and_file(config_file):
    path = config_file({"server": {"port": 5001}})
    overrides = cli_overrides(parse_args(["--port", "5003"]))
    config = load_config(path, env={"CHAT_SERVER__PORT": "5002"}, overrides=overrides)
    assert config.server.port == 5003


def test_running_server_listens_on_the_command_line_port(start_server):
    # The fixture always passes --port; the file and the environment name other ports.
    proc = start_server(overrides={"server": {"port": 1}}, env={"CHAT_SERVER__PORT": "2"})
    assert f"serving on http://127.0.0.1:{proc.port} " in proc.logs()


def test_running_server_reads_plugin_switches_from_env(start_server):
    proc = start_server(env={"CHAT_PLUGINS__GROUP_CHAT__ENABLED": "false"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(proc.url + "/groupchat", timeout=5)
    assert info.value.code == 404
    assert urllib.request.urlopen(proc.url + "/chat", timeout=5).status == 200


def test_running_server_uses_env_over_file(start_server):
    proc = start_server(overrides={"server": {"public_url": "http://from-file.example"}},
                        env={"CHAT_SERVER__PUBLIC_URL": "http://from-env.example"})
    page = urllib.request.urlopen(proc.url + "/chat.html", timeout=5).read().decode()
    assert "http://from-env.example/socket.io/socket.io.js" in page
    assert "from-file.example" not in page

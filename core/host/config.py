"""Read config.yaml, apply .env / environment / command-line overrides, validate it all at once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from core.host.discovery import BackplaneSpec, PluginSpec, add_plugin_dirs, load_backplane, load_plugin
from core.base.settings import ServerSettings, validate_section

ENV_PREFIX = "CHAT_"


class ConfigError(Exception):
    """Every problem found in the configuration, each as 'path: message'."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems

    def report(self) -> str:
        """The text printed before the process exits."""
        lines = [f"configuration error{'s' if len(self.problems) > 1 else ''}:"]
        return "\n".join(lines + [f"  {p}" for p in self.problems])


@dataclass(frozen=True)
class AppConfig:
    """The whole validated configuration."""

    server: ServerSettings
    backplane: BackplaneSpec
    plugins: list[PluginSpec] = field(default_factory=list)
    source: str = "<defaults>"


def _yaml_scalar(text: str) -> Any:
    """Type an environment value the way YAML would ('3001' -> 3001, 'false' -> False)."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def _set_path(raw: dict, path: list[str], value: Any) -> None:
    node = raw
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def environment_overrides(env: dict[str, str]) -> list[tuple[list[str], Any]]:
    """The config paths that environment variables set, in the order they apply."""
    overrides: list[tuple[list[str], Any]] = []
    # The tutorial's names come first so that explicit CHAT_* variables win.
    if env.get("REDIS_HOST") or env.get("REDIS_PORT"):
        host = env.get("REDIS_HOST") or "127.0.0.1"
        port = env.get("REDIS_PORT") or "6379"
        overrides.append((["backplane", "redis", "url"], f"redis://{host}:{port}/0"))
    if env.get("REDIS_URL"):
        overrides.append((["backplane", "redis", "url"], env["REDIS_URL"]))
    for short, path in (("HOST", ["server", "host"]), ("PORT", ["server", "port"]),
                        ("PUBLIC_URL", ["server", "public_url"])):
        if env.get(short):
            overrides.append((path, _yaml_scalar(env[short])))
    for key in sorted(env):
        if key.startswith(ENV_PREFIX) and key != f"{ENV_PREFIX}CONFIG":
            path = [part.lower() for part in key[len(ENV_PREFIX):].split("__") if part]
            if path:
                overrides.append((path, _yaml_scalar(env[key])))
    return overrides


def read_environment(env_file: str | os.PathLike | None = ".env") -> dict[str, str]:
    """Process environment over the values of a .env file (the real environment wins)."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def load_raw(path: str | os.PathLike | None) -> dict:
    """The YAML document as a dict ({} for no file)."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    return data


def build_config(raw: dict, source: str = "<dict>") -> AppConfig:
    """Validate a raw config dict; raise ConfigError listing every problem."""
    problems: list[str] = []
    for key in raw:
        if key not in ("server", "backplane", "plugins", "plugin_dirs"):
            problems.append(f"{key}: unknown key")
    add_plugin_dirs(raw.get("plugin_dirs"), problems)
    server = validate_section(ServerSettings, raw.get("server"), "server", problems)
    backplane = load_backplane(raw.get("backplane"), problems)
    plugins: list[PluginSpec] = []
    section = raw.get("plugins") or {}
    if not isinstance(section, dict):
        problems.append("plugins: expected a mapping of plugin name to options")
        section = {}
    for name, options in section.items():
        spec = load_plugin(name, options, problems)
        if spec is not None:
            plugins.append(spec)
    if server is not None and backplane is not None and server.workers > 1 and \
            getattr(backplane.module, "SINGLE_PROCESS_ONLY", False):
        problems.append(f"server.workers: {server.workers} workers need a shared backplane; "
                        f"the {backplane.kind!r} backplane only serves one process")
    if problems:
        raise ConfigError(problems)
    return AppConfig(server=server, backplane=backplane, plugins=plugins, source=source)


def load_config(path: str | os.PathLike | None = "config.yaml", *,
                env: dict[str, str] | None = None,
                overrides: list[tuple[list[str], Any]] = ()) -> AppConfig:
    """config file < .env < environment < explicit overrides (command line), then validate."""
    raw = load_raw(path)
    for keys, value in [*environment_overrides(read_environment() if env is None else env), *overrides]:
        _set_path(raw, keys, value)
    return build_config(raw, source=str(path))

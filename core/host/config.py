"""Read config.yaml, apply .env / environment / command-line overrides, validate it all at once.

Every value remembers where it came from (`config.yaml line 12`, `.env line 3`,
`PORT (environment)`, `--port`), and every problem names that source.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values

from core.host.discovery import BackplaneSpec, PluginSpec, add_plugin_dirs, load_backplane, load_plugin
from core.base.settings import ServerSettings, validate_section

ENV_PREFIX = "CHAT_"
ROOT = Path(__file__).resolve().parents[2]  # the project folder
SHIPPED_CONFIG = ROOT / "config.yaml"
SECTIONS = ("server", "backplane", "plugins", "plugin_dirs")
REDIS_NAMES = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT")


class ConfigError(Exception):
    """Every problem found in the configuration, each as 'path: message', with its source."""

    def __init__(self, problems: list[str], sources: list[str | None] | None = None):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.sources = sources or [None] * len(problems)

    def lines(self) -> list[str]:
        """Each problem as 'source: path: message' (the source where known)."""
        return [f"{src}: {p}" if src else p for src, p in zip(self.sources, self.problems)]

    def report(self) -> str:
        """The text printed before the process exits."""
        lines = [f"configuration error{'s' if len(self.problems) > 1 else ''}:"]
        return "\n".join(lines + [f"  {line}" for line in self.lines()])


@dataclass(frozen=True)
class AppConfig:
    """The whole validated configuration."""

    server: ServerSettings
    backplane: BackplaneSpec
    plugins: list[PluginSpec] = field(default_factory=list)
    source: str = "<defaults>"
    # Things worth saying at start that do not stop the server (logged by the command line).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Override:
    """One value set outside the config file, and where it was set."""

    path: list[str]
    value: Any
    source: str


class EnvValues(dict):
    """Environment values; `origins[name]` says where each came from (.env line or environment)."""

    def __init__(self, values: dict[str, str] | None = None, origins: dict[str, str] | None = None):
        super().__init__(values or {})
        self.origins = origins or {}

    def origin(self, name: str) -> str:
        return self.origins.get(name, f"{name} (environment)")


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


def _suggest(rest: str) -> str:
    """For CHAT_SERVER_PORT: the double-underscore spelling that names a config key."""
    for section in SECTIONS:
        if rest.lower().startswith(section + "_") and len(rest) > len(section) + 1:
            return f"; did you mean {ENV_PREFIX}{rest[:len(section)]}__{rest[len(section) + 1:]}?"
    return ""


def environment_overrides(env: dict[str, str], warnings: list[str] | None = None,
                          problems: list[tuple[str, str]] | None = None) -> list[Override]:
    """The config paths that environment variables set, in the order they apply."""
    origin = env.origin if isinstance(env, EnvValues) else (lambda name: f"{name} (environment)")
    warnings = [] if warnings is None else warnings
    problems = [] if problems is None else problems
    overrides: list[Override] = []
    # The tutorial's names come first so that explicit CHAT_* variables win.
    if env.get("REDIS_HOST") or env.get("REDIS_PORT"):
        host = env.get("REDIS_HOST") or "127.0.0.1"
        port = env.get("REDIS_PORT") or "6379"
        source = ", ".join(origin(n) for n in ("REDIS_HOST", "REDIS_PORT") if env.get(n))
        if not port.isdigit() or not 0 < int(port) < 65536:
            problems.append((origin("REDIS_PORT"), f"REDIS_PORT: expected a port number, not {port!r}"))
        else:
            overrides.append(Override(["backplane", "redis", "url"], f"redis://{host}:{port}/0", source))
    if env.get("REDIS_URL"):
        overrides.append(Override(["backplane", "redis", "url"], env["REDIS_URL"], origin("REDIS_URL")))
    for short, path in (("HOST", ["server", "host"]), ("PORT", ["server", "port"]),
                        ("PUBLIC_URL", ["server", "public_url"])):
        if env.get(short):
            overrides.append(Override(path, _yaml_scalar(env[short]), origin(short)))
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        rest = key[len(ENV_PREFIX):]
        path = [part.lower() for part in rest.split("__") if part]
        if not path:
            continue
        if "__" not in rest and path[0] not in SECTIONS:
            # Other programs use CHAT_ names too: a name that cannot be a config key is ignored.
            warnings.append(f"{origin(key)}: ignored: not a config key (sections and keys are "
                            f"separated by two underscores){_suggest(rest)}")
            continue
        overrides.append(Override(path, _yaml_scalar(env[key]), origin(key)))
    return overrides


_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def read_environment(env_file: str | os.PathLike | None = ".env") -> EnvValues:
    """Process environment over the values of a .env file (the real environment wins)."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        name = os.path.relpath(env_file) if not Path(env_file).is_absolute() else str(env_file)
        name = ".env" if Path(env_file).resolve() == Path(".env").resolve() else name
        for number, line in enumerate(Path(env_file).read_text(errors="replace").splitlines(), 1):
            match = _ENV_LINE.match(line)
            if match and match.group(1) in values:
                origins[match.group(1)] = f"{name} line {number}"
    values.update(os.environ)
    for key in os.environ:
        origins.pop(key, None)
    return EnvValues(values, origins)


def _key_lines(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Line number (1-based) of every key of a YAML mapping, by key path."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                path = (*prefix, str(key.value))
                lines[path] = key.start_mark.line + 1
                lines.update(_key_lines(value, path))
    return lines


def load_raw(path: str | os.PathLike | None, lines: dict[tuple, int] | None = None) -> dict:
    """The YAML document as a dict ({} for no file); `lines` gets each key's line number."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read ({exc.strerror})"], [str(path)]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"invalid YAML: {exc}"], [str(path)]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(["expected a mapping at the top level"], [str(path)])
    if lines is not None:
        lines.update(_key_lines(yaml.compose(text)))
    return data


def _redis_url_problem(backplane: BackplaneSpec | None) -> str | None:
    url = getattr(getattr(backplane, "config", None), "url", None)
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        return f"backplane.{backplane.kind}.url: {url!r}: the port is not a number"
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        return f"backplane.{backplane.kind}.url: {url!r}: expected redis://host:port/db"
    return None


def build_config(raw: dict, source: str = "<dict>", warnings: Iterable[str] = (),
                 locate=None) -> AppConfig:
    """Validate a raw config dict; raise ConfigError listing every problem (with its source)."""
    problems: list[str] = []
    for key in raw:
        if key not in SECTIONS:
            problems.append(f"{key}: unknown key")
    add_plugin_dirs(raw.get("plugin_dirs"), problems)
    server = validate_section(ServerSettings, raw.get("server"), "server", problems)
    backplane = load_backplane(raw.get("backplane"), problems)
    redis_problem = _redis_url_problem(backplane)
    if redis_problem:
        problems.append(redis_problem)
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
        raise ConfigError(problems, [locate(p) if locate else None for p in problems])
    return AppConfig(server=server, backplane=backplane, plugins=plugins, source=source,
                     warnings=tuple(warnings))


class Sources:
    """Where each config path was set: the file (with its line) or an override."""

    def __init__(self, file: str | None, lines: dict[tuple, int]):
        self._file = file
        self._lines = lines
        self._set: dict[tuple, str] = {}

    def set(self, path: list[str], source: str) -> None:
        key = tuple(path)
        # A later override replaces what it covers: its source is the one to blame.
        for known in [k for k in self._set if k[:len(key)] == key]:
            del self._set[known]
        self._set[key] = source

    def explicit(self, path: list[str]) -> str | None:
        """The source that set path (or a section above it), or None when it is a default."""
        key = tuple(path)
        for n in range(len(key), 0, -1):
            if key[:n] in self._set:
                return self._set[key[:n]]
        return self._file_source(key) if key in self._lines else None

    def _file_source(self, key: tuple) -> str:
        for n in range(len(key), 0, -1):
            if key[:n] in self._lines:
                return f"{self._file} line {self._lines[key[:n]]}"
        return self._file

    def of_problem(self, problem: str) -> str | None:
        """The source to name in front of a 'path: message' problem."""
        key = tuple(problem.split(":", 1)[0].split("."))
        for n in range(len(key), 0, -1):
            if key[:n] in self._set:
                return self._set[key[:n]]
            if key[:n] in self._lines:
                return self._file_source(key)
        below = {src for k, src in self._set.items() if k[:len(key)] == key}
        if len(below) == 1:
            return below.pop()
        return self._file


def load_config(path: str | os.PathLike | None = "config.yaml", *,
                env: dict[str, str] | None = None,
                overrides: Iterable[Override | tuple[list[str], Any]] = ()) -> AppConfig:
    """config file < .env < environment < explicit overrides (command line), then validate."""
    lines: dict[tuple, int] = {}
    raw = load_raw(path, lines)
    sources = Sources(str(path) if path is not None else None, lines)
    if "plugins" not in raw and path is not None and Path(path).resolve() != SHIPPED_CONFIG:
        # "Every key is optional; the values below are the defaults": the shipped file's
        # plugins section is the default plugins section.
        raw["plugins"] = copy.deepcopy(load_raw(SHIPPED_CONFIG).get("plugins") or {})
    warnings: list[str] = []
    env_problems: list[tuple[str, str]] = []
    environment = read_environment() if env is None else env
    explicit = [o if isinstance(o, Override) else Override(list(o[0]), o[1], "command line")
                for o in overrides]
    for item in [*environment_overrides(environment, warnings, env_problems), *explicit]:
        _set_path(raw, item.path, item.value)
        sources.set(item.path, item.source)
    _choose_backplane(raw, environment, sources, warnings)
    try:
        config = build_config(raw, source=str(path), warnings=warnings, locate=sources.of_problem)
    except ConfigError as exc:
        exc.problems[:0] = [p for _, p in env_problems]
        exc.sources[:0] = [s for s, _ in env_problems]
        raise
    if env_problems:
        raise ConfigError([p for _, p in env_problems], [s for s, _ in env_problems])
    return config


def _choose_backplane(raw: dict, env: dict[str, str], sources: Sources, warnings: list[str]) -> None:
    """Redis settings in the environment choose the redis backplane unless a kind is set."""
    given = [n for n in REDIS_NAMES if env.get(n)]
    if not given:
        return
    origin = env.origin if isinstance(env, EnvValues) else (lambda name: f"{name} (environment)")
    named = ", ".join(origin(n) for n in given)
    backplane = raw.get("backplane")
    kind_source = sources.explicit(["backplane", "kind"])
    if kind_source is None:
        if backplane is None or isinstance(backplane, dict):
            _set_path(raw, ["backplane", "kind"], "redis")
            sources.set(["backplane", "kind"], named)
    elif isinstance(backplane, dict) and backplane.get("kind") != "redis":
        warnings.append(f"{named}: unused: backplane.kind is {backplane.get('kind')!r} ({kind_source}); "
                        f"remove that setting (or set it to redis) to use Redis")

"""Read config.yaml, apply .env / environment / command-line overrides, validate it all at once."""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel, ValidationError

from core.settings import ServerSettings, Settings

ENV_PREFIX = "CHAT_"
PLUGIN_PACKAGE = "plugins"
BACKPLANE_PACKAGE = "core.backplane"


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
class PluginSpec:
    """An enabled plugin: its module and its validated config."""

    name: str
    module: ModuleType
    config: BaseModel


@dataclass(frozen=True)
class BackplaneSpec:
    """The chosen backplane: its module and its validated options."""

    kind: str
    module: ModuleType
    config: BaseModel


@dataclass(frozen=True)
class AppConfig:
    """The whole validated configuration."""

    server: ServerSettings
    backplane: BackplaneSpec
    plugins: list[PluginSpec] = field(default_factory=list)
    source: str = "<defaults>"


class EmptyConfig(Settings):
    """Config of a plugin or backplane that declares no options."""


# Friendlier wording for the pydantic errors a config file typically hits.
_MESSAGES = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _format_errors(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        problems.append(f"{path}: {_MESSAGES.get(err['type'], err['msg'])}")
    return problems


def _validate(model: type[BaseModel], raw: Any, prefix: str, problems: list[str]):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{prefix}: expected a mapping")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_format_errors(exc, prefix))
        return None


def _import_optional(package: str, name: str) -> ModuleType | None:
    """Import package.name if that module exists, else None (its own import errors propagate)."""
    if not name.isidentifier():
        return None
    if importlib.util.find_spec(f"{package}.{name}") is None:
        return None
    return importlib.import_module(f"{package}.{name}")


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


def _add_plugin_dirs(dirs: Any, problems: list[str]) -> None:
    """Let `plugins.<name>` also resolve in the folders listed under plugin_dirs."""
    if dirs is None:
        return
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        problems.append("plugin_dirs: expected a list of folder paths")
        return
    package = importlib.import_module(PLUGIN_PACKAGE)
    for folder in dirs:
        path = str(Path(folder).resolve())
        if not Path(path).is_dir():
            problems.append(f"plugin_dirs: {folder}: no such folder")
        elif path not in package.__path__:
            package.__path__.append(path)


def _load_backplane(raw: Any, problems: list[str]) -> BackplaneSpec | None:
    section = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        problems.append("backplane: expected a mapping")
    kind = section.get("kind", "memory")
    if not isinstance(kind, str):
        problems.append("backplane.kind: expected a string")
        return None
    for key in section:
        if key != "kind" and (not isinstance(key, str) or _import_optional(BACKPLANE_PACKAGE, key) is None):
            problems.append(f"backplane.{key}: unknown key (no backplane named {key!r})")
    module = _import_optional(BACKPLANE_PACKAGE, kind)
    if module is None or not hasattr(module, "create"):
        problems.append(f"backplane.kind: unknown backplane {kind!r}")
        return None
    config = _validate(getattr(module, "Config", EmptyConfig), section.get(kind), f"backplane.{kind}", problems)
    return BackplaneSpec(kind, module, config) if config is not None else None


def _load_plugin(name: Any, raw: Any, problems: list[str]) -> PluginSpec | None:
    prefix = f"plugins.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{prefix}: expected a mapping")
        return None
    options = dict(raw)
    enabled = options.pop("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{prefix}.enabled: expected true or false")
        return None
    try:
        module = _import_optional(PLUGIN_PACKAGE, str(name)) if enabled else None
        exists = module is not None or (
            str(name).isidentifier() and importlib.util.find_spec(f"{PLUGIN_PACKAGE}.{name}") is not None)
    except Exception as exc:  # a plugin that fails to import is a config problem, not a crash
        problems.append(f"{prefix}: failed to import: {type(exc).__name__}: {exc}")
        return None
    if not exists:
        problems.append(f"{prefix}: unknown plugin (no folder {PLUGIN_PACKAGE}/{name}/)")
        return None
    if not enabled:
        return None
    if not callable(getattr(module, "setup", None)):
        problems.append(f"{prefix}: the plugin module has no setup(ctx) function")
        return None
    config = _validate(getattr(module, "Config", EmptyConfig), options, prefix, problems)
    return PluginSpec(getattr(module, "name", name), module, config) if config is not None else None


def build_config(raw: dict, source: str = "<dict>") -> AppConfig:
    """Validate a raw config dict; raise ConfigError listing every problem."""
    problems: list[str] = []
    for key in raw:
        if key not in ("server", "backplane", "plugins", "plugin_dirs"):
            problems.append(f"{key}: unknown key")
    _add_plugin_dirs(raw.get("plugin_dirs"), problems)
    server = _validate(ServerSettings, raw.get("server"), "server", problems)
    backplane = _load_backplane(raw.get("backplane"), problems)
    plugins: list[PluginSpec] = []
    section = raw.get("plugins") or {}
    if not isinstance(section, dict):
        problems.append("plugins: expected a mapping of plugin name to options")
        section = {}
    for name, options in section.items():
        spec = _load_plugin(name, options, problems)
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

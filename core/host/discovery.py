"""Find plugin and backplane modules by the names config.yaml gives, and validate their options."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from core.base.settings import Settings, validate_section

PLUGIN_PACKAGE = "plugins"
# Installed distributions declare plugins under this entry point group, name = the config key:
#   [project.entry-points."chat.plugins"]
#   members = "chat_members"
ENTRY_POINT_GROUP = "chat.plugins"
BACKPLANE_PACKAGE = "core.backplane"


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


class EmptyConfig(Settings):
    """Config of a plugin or backplane that declares no options."""


def _import_optional(package: str, name: str) -> ModuleType | None:
    """Import package.name if that module exists, else None (its own import errors propagate)."""
    if not name.isidentifier():
        return None
    if importlib.util.find_spec(f"{package}.{name}") is None:
        return None
    return importlib.import_module(f"{package}.{name}")


def add_plugin_dirs(dirs: Any, problems: list[str]) -> None:
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


def load_backplane(raw: Any, problems: list[str]) -> BackplaneSpec | None:
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
    config = validate_section(getattr(module, "Config", EmptyConfig), section.get(kind), f"backplane.{kind}", problems)
    return BackplaneSpec(kind, module, config) if config is not None else None


def _entry_point(name: str) -> importlib.metadata.EntryPoint | None:
    """The installed distribution's entry point for plugin `name`, if one declares it."""
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))
    return found[0] if found else None


def _find_plugin(name: Any, load: bool) -> tuple[bool, ModuleType | None]:
    """(exists, module): a folder in plugins/ or plugin_dirs first, then an installed entry point."""
    module = _import_optional(PLUGIN_PACKAGE, str(name)) if load else None
    if module is not None or (str(name).isidentifier()
                              and importlib.util.find_spec(f"{PLUGIN_PACKAGE}.{name}") is not None):
        return True, module
    entry = _entry_point(str(name))
    if entry is None:
        return False, None
    if not load:
        return True, None
    loaded = entry.load()
    if not isinstance(loaded, ModuleType):
        raise TypeError(f"entry point {ENTRY_POINT_GROUP}:{name} = {entry.value!r} must name a module, "
                        f"not a {type(loaded).__name__}")
    return True, loaded


def load_plugin(name: Any, raw: Any, problems: list[str]) -> PluginSpec | None:
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
        exists, module = _find_plugin(name, load=enabled)
    except Exception as exc:  # a plugin that fails to import is a config problem, not a crash
        problems.append(f"{prefix}: failed to import: {type(exc).__name__}: {exc}")
        return None
    if not exists:
        problems.append(f"{prefix}: unknown plugin (no folder {PLUGIN_PACKAGE}/{name}/, "
                        f"no installed {ENTRY_POINT_GROUP} entry point {name!r})")
        return None
    if not enabled:
        return None
    if not callable(getattr(module, "setup", None)):
        problems.append(f"{prefix}: the plugin module has no setup(ctx) function")
        return None
    config = validate_section(getattr(module, "Config", EmptyConfig), options, prefix, problems)
    return PluginSpec(getattr(module, "name", name), module, config) if config is not None else None

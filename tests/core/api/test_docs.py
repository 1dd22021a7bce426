"""docs/plugins.md documents the whole public API: every name of core.api and every ctx member."""

import ast
import inspect
import re
from pathlib import Path

import core.api
from core.api import PluginContext

ROOT = Path(__file__).resolve().parents[3]
DOCS = (ROOT / "docs" / "plugins.md").read_text()
CONTEXT_SOURCE = Path(inspect.getfile(PluginContext))


def documented_import_line() -> set[str]:
    """The names of the `from core.api import (...)` block in the docs."""
    match = re.search(r"from core\.api import \(([^)]*)\)", DOCS)
    assert match, "docs/plugins.md has no `from core.api import (...)` line"
    return {name.strip() for name in match.group(1).replace("\n", ",").split(",") if name.strip()}


def public_context_members() -> set[str]:
    """PluginContext's public methods, properties and the attributes its __init__ sets."""
    members = {name for name, _ in inspect.getmembers(PluginContext) if not name.startswith("_")}
    tree = ast.parse(CONTEXT_SOURCE.read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PluginContext"]
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and node.value.id == "self" and not node.attr.startswith("_"):
            members.add(node.attr)
    return members


def test_the_import_line_lists_exactly_core_api():
    assert documented_import_line() == set(core.api.__all__)


def test_every_public_name_has_a_row_and_a_docstring():
    for name in core.api.__all__:
        assert re.search(rf"^\|[^|\n]*`{re.escape(name)}[`(]", DOCS, re.M), f"{name}: no table row in docs/plugins.md"
        doc = inspect.getdoc(getattr(core.api, name))
        assert doc and doc.splitlines()[0].strip(), f"core.api.{name} has no docstring"


def test_core_api_describes_each_name_in_one_line():
    described = {line.split()[0] for line in core.api.__doc__.splitlines()
                 if line and not line.startswith(" ") and len(line.split()) > 1}
    assert set(core.api.__all__) <= described, set(core.api.__all__) - described


def test_every_ctx_member_is_documented():
    members = public_context_members()
    assert {"on", "emit", "name", "config"} <= members  # the scan sees methods and attributes
    for member in members:
        assert re.search(rf"ctx\.{member}\b", DOCS), f"ctx.{member} is not documented in docs/plugins.md"


def test_every_ctx_method_has_a_one_line_docstring():
    for name, member in inspect.getmembers(PluginContext, inspect.isfunction):
        if not name.startswith("_"):
            doc = inspect.getdoc(member)
            assert doc and "\n" not in doc.strip(), f"PluginContext.{name}: wants a one-line docstring"


def test_shipped_plugins_import_core_api_only():
    for init in sorted((ROOT / "plugins").glob("*/__init__.py")):
        tree = ast.parse(init.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                allowed = module in ("core.api", "__future__") or not module.split(".")[0] in (
                    "core", "plugins", "sanic", "socketio", "engineio", "pydantic")
                assert allowed, f"{init.relative_to(ROOT)} imports {module}"
        assert "ctx.sio" not in init.read_text() and "ctx.app" not in init.read_text(), init

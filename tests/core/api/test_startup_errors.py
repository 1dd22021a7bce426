"""Startup problems a plugin author sees: the place a setup() failed, route and page clashes; exit code 2."""

from tests.core.api.conftest import with_fixture_plugins
from tests.support.server import BASE_CONFIG, merge, run_once


def test_a_misused_api_in_setup_names_the_plugins_file_and_line(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins("misuse")), tmp_path)
    assert result.returncode == 2
    assert ("plugins.misuse: setup failed: ValueError: a namespace starts with '/' (like '/admin'), "
            "not 'admin' (at tests/core/api/fixture_plugins/misuse/__init__.py:7)") in result.stderr
    assert "Traceback" not in result.stderr


def test_a_route_served_twice_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins("route_clash")), tmp_path)
    assert result.returncode == 2
    assert "plugins.route_clash: route GET /chat is already served by plugins.global_chat" in result.stderr
    assert "plugins.route_clash: route GET /healthz is already served by core" in result.stderr


def test_extending_a_missing_page_or_with_a_missing_file_stops_startup(tmp_path):
    result = run_once(merge(BASE_CONFIG, with_fixture_plugins("bad_extension")), tmp_path)
    assert result.returncode == 2
    assert "plugins.bad_extension: extend_page('/nowhere'): no page at that path (pages: /chat, /groupchat)" \
        in result.stderr
    assert "plugins.bad_extension: extend_page('/groupchat'): style 'missing.css' is not a file in" in result.stderr

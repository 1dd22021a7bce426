"""Pages: the index, the chat pages and their standalone copies, the served socket.io client, no CDN."""

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.support.server import free_port

SERVER_PAGES = ["/chat", "/groupchat"]
STANDALONE_PAGES = ["/chat.html", "/groupchat.html"]
CHAT_IDS = ["nickname", "message", "btnSend", "chatHistory"]
GROUP_IDS = CHAT_IDS + ["roomid", "btnEntry"]
# Absolute URLs anywhere, and protocol-relative ones in src/href attributes.
URL = re.compile(r"""https?://[^\s"'<>()\\]+|(?<=src=")//[^"]+|(?<=href=")//[^"]+""")


class Response:
    def __init__(self, status: int, headers, body: str):
        self.status, self.headers, self.body = status, headers, body


def get(url: str) -> Response:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return Response(resp.status, resp.headers, resp.read().decode())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.headers, exc.read().decode())


@pytest.fixture(scope="module")
def site(module_server):
    """A server whose public_url is its own address, so standalone pages point back at it."""
    port = free_port()
    proc = module_server({"server": {"public_url": f"http://127.0.0.1:{port}"}}, port=port)
    proc.public_url = f"http://127.0.0.1:{port}"
    return proc


def test_index_links_the_chat_pages(site):
    page = get(site.url + "/")
    assert page.status == 200
    assert 'href="/chat"' in page.body
    assert 'href="/groupchat"' in page.body


@pytest.mark.parametrize("path", SERVER_PAGES + STANDALONE_PAGES)
def test_page_is_html(site, path):
    page = get(site.url + path)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/chat", "/chat.html"])
def test_chat_page_has_its_elements(site, path):
    body = get(site.url + path).body
    for element_id in CHAT_IDS:
        assert f'id="{element_id}"' in body, element_id


@pytest.mark.parametrize("path", ["/groupchat", "/groupchat.html"])
def test_group_chat_page_has_its_elements(site, path):
    body = get(site.url + path).body
    for element_id in GROUP_IDS:
        assert f'id="{element_id}"' in body, element_id


@pytest.mark.parametrize("path", SERVER_PAGES)
def test_server_page_loads_client_script_same_origin(site, path):
    body = get(site.url + path).body
    assert '<script src="/socket.io/socket.io.js"></script>' in body
    assert site.public_url not in body


@pytest.mark.parametrize("path", STANDALONE_PAGES)
def test_standalone_page_loads_client_script_from_public_url(site, path):
    body = get(site.url + path).body
    assert f'<script src="{site.public_url}/socket.io/socket.io.js"></script>' in body


@pytest.mark.parametrize("path", STANDALONE_PAGES)
def test_standalone_page_connects_to_public_url(site, path):
    body = get(site.url + path).body
    assert json.dumps(site.public_url) in body  # the socket URL handed to io()


@pytest.mark.parametrize("path", ["/"] + SERVER_PAGES + STANDALONE_PAGES)
def test_page_uses_no_outside_urls(site, path):
    body = get(site.url + path).body
    outside = [u for u in URL.findall(body) if not u.startswith(site.public_url)]
    assert outside == []


def test_client_script_is_served(site):
    script = get(site.url + "/socket.io/socket.io.js")
    assert script.status == 200
    assert "javascript" in script.headers["Content-Type"]
    assert "io" in script.body
    assert len(script.body) > 10_000  # the real client, not a stub


def test_missing_client_script_is_logged_once_and_404(start_server, tmp_path):
    missing = tmp_path / "nowhere" / "socket.io.min.js"
    proc = start_server(overrides={"server": {"client_script": str(missing)}})
    lines = [line for line in proc.logs().splitlines() if str(missing) in line]
    assert len(lines) == 1
    assert "ERROR" in lines[0] and "not found" in lines[0]
    assert get(proc.url + "/socket.io/socket.io.js").status == 404
    assert get(proc.url + "/chat").status == 200

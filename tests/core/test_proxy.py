"""Behind a reverse proxy: the per-address cap counts real clients, pages point at the public address."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import socketio
import yaml

from core.base.settings import ServerSettings
from tests.support.server import ROOT


CAP = 2


async def connect_from(url: str, forwarded_for: str) -> socketio.AsyncClient | str:
    """A client whose proxy says it is forwarded_for; the client, or the refusal's reason."""
    client = socketio.AsyncClient(reconnection=False)
    refusal: list = []
    client.on("connect_error", lambda data: refusal.append(data))
    try:
        await client.connect(url, transports=["websocket"], headers={"X-Forwarded-For": forwarded_for},
                             wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        await client.disconnect()
        return refusal[0]["message"] if refusal else "refused"
    return client


async def test_cap_counts_the_addresses_a_trusted_proxy_reports(start_server):
    proc = start_server({"server": {"max_connections_per_address": CAP, "proxies_count": 1}})
    connected = [await connect_from(proc.url, f"10.0.0.{n}") for n in range(1, 6)]
    try:
        assert all(isinstance(c, socketio.AsyncClient) for c in connected), connected
        more = [await connect_from(proc.url, "10.0.0.1") for _ in range(CAP)]
        assert isinstance(more[0], socketio.AsyncClient)
        assert more[1] == f"too many connections from your address (at most {CAP})"
        connected += more[:1]
    finally:
        for client in connected:
            await client.disconnect()
    assert "refused connection from 10.0.0.1" in proc.logs()


async def test_without_a_proxy_setting_forwarded_addresses_are_not_believed(start_server):
    proc = start_server({"server": {"max_connections_per_address": CAP}})
    results = [await connect_from(proc.url, f"10.0.0.{n}") for n in range(1, 4)]
    try:
        assert results[2] == f"too many connections from your address (at most {CAP})"
    finally:
        for client in results[:2]:
            await client.disconnect()


async def test_start_says_when_the_cap_runs_without_a_proxy_setting(start_server):
    plain = start_server()
    assert "no proxy setting: behind a reverse proxy every client has the proxy's address" in plain.logs()
    for setting in ({"proxies_count": 1}, {"forwarded_secret": "s3cret"}, {"real_ip_header": "X-Real-IP"}):
        proxied = start_server({"server": setting})
        assert "no proxy setting" not in proxied.logs(), setting


def page(url: str, headers: dict) -> str:
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).read().decode()


async def test_standalone_page_points_at_the_address_the_proxy_reports(start_server):
    proc = start_server({"server": {"proxies_count": 1}})
    body = page(proc.url + "/chat.html", {"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "https",
                                          "X-Forwarded-Host": "chat.example.org"})
    assert '<script src="https://chat.example.org/socket.io/socket.io.js">' in body
    assert "127.0.0.1" not in body


async def test_standalone_page_points_at_the_host_it_was_fetched_from(start_server):
    proc = start_server()
    body = page(proc.url + "/groupchat.html", {"Host": "chat.lan:8080"})
    assert '<script src="http://chat.lan:8080/socket.io/socket.io.js">' in body
    # Forwarded headers from a proxy nobody configured are not believed.
    body = page(proc.url + "/chat.html", {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    assert f'<script src="{proc.url}/socket.io/socket.io.js">' in body


async def test_explicit_public_url_wins(start_server):
    proc = start_server(args=["--public-url", "https://chat.example.org/"])
    body = page(proc.url + "/chat.html", {"Host": "chat.lan:8080"})
    assert '<script src="https://chat.example.org/socket.io/socket.io.js">' in body


def test_the_shipped_config_documents_the_cap_and_the_proxy_keys():
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())["server"]
    defaults = ServerSettings()
    for key in ("max_connections_per_address", "proxies_count", "forwarded_secret", "real_ip_header"):
        assert shipped[key] == getattr(defaults, key), key
    readme = (ROOT / "README.md").read_text()
    for key in ("server.proxies_count", "server.forwarded_secret", "server.real_ip_header", "PROXIES_COUNT"):
        assert key in readme, key
    # One machine with many tabs is a normal user; so are hundreds of people behind one NAT.
    assert defaults.max_connections_per_address >= 200

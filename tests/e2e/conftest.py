"""Browser fixtures: headless Debian Chromium driven by Playwright's sync API.

Every page opened through the `pages` fixture is watched: console errors and uncaught page errors
are collected, every request and websocket is recorded, and anything that is not the test server
(or a local file) is aborted. After the test, the fixture fails it if there were any errors or
foreign requests. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.server import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # No name resolves except the local ones: nothing can leave the machine.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"

# How the browser reports a server that is down; tolerated only inside `pages.server_down()`.
NETWORK_DOWN = re.compile(r"ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|"
                          r"WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED")

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (the sync API must not outlive the module)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watch:
    """What the pages of one test did that they should not have."""

    allowed_origins: set[str] = field(default_factory=set)
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL asked for, allowed or not
    tolerated: list[re.Pattern] = field(default_factory=list)  # console errors expected for now

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("file", "data", "about", "blob"):
            return True
        origin = f"{parts.hostname}:{parts.port}"
        return origin in self.allowed_origins

    def allow_server(self, url: str) -> None:
        parts = urlsplit(url)
        self.allowed_origins.add(f"{parts.hostname}:{parts.port}")

    def on_request(self, request) -> None:
        self.requests.append(request.url)
        if not self.allows(request.url):
            self.foreign_requests.append(request.url)

    def on_websocket(self, ws) -> None:
        self.requests.append(ws.url)
        if not self.allows(ws.url):
            self.foreign_requests.append(ws.url)

    def on_console(self, page: Page, msg) -> None:
        if msg.type != "error":
            return
        if any(p.search(msg.text) for p in self.tolerated):
            return
        self.console_errors.append(f"{page.url}: console.error: {msg.text}")


class Pages:
    """Opens pages in fresh browser contexts, each one watched (see module docstring)."""

    def __init__(self, browser: Browser):
        self._browser = browser
        self.watch = Watch()
        self.contexts: list[BrowserContext] = []

    def allow_server(self, url: str) -> None:
        """Requests to this server's origin are allowed (the server under test)."""
        self.watch.allow_server(url)

    @contextmanager
    def expected_console_errors(self, pattern: re.Pattern | str):
        """Console errors matching pattern are expected inside the block (and not reported)."""
        self.watch.tolerated.append(re.compile(pattern))
        try:
            yield
        finally:
            self.watch.tolerated.pop()

    def server_down(self):
        """While the server is stopped, the browser's 'connection refused' errors are expected."""
        return self.expected_console_errors(NETWORK_DOWN)

    def new_context(self, locale: str = "en-GB") -> BrowserContext:
        # locale sets navigator.language and the Accept-Language header alike.
        ctx = self._browser.new_context(viewport={"width": 900, "height": 640},
                                        locale=locale, timezone_id="UTC")
        watch = self.watch

        def refuse(route):
            watch.foreign_requests.append(route.request.url)
            route.abort("blockedbyclient")

        def refuse_socket(ws_route):
            watch.foreign_requests.append(ws_route.url)
            ws_route.close()

        ctx.route(lambda url: not watch.allows(url), refuse)
        ctx.route_web_socket(lambda url: not watch.allows(url), refuse_socket)
        ctx.on("request", watch.on_request)
        self.contexts.append(ctx)
        return ctx

    def open(self, url: str, nickname: str | None = None, *, wait_connected: bool = True,
             locale: str = "en-GB") -> Page:
        """A new context (a browser in that locale) with one page at url; sets the nickname field if given."""
        page = self.new_context(locale).new_page()
        watch = self.watch
        page.on("console", lambda msg: watch.on_console(page, msg))
        page.on("pageerror", lambda exc: watch.console_errors.append(f"{page.url}: pageerror: {exc}"))
        page.on("websocket", watch.on_websocket)
        page.goto(url)
        if nickname is not None:
            page.locator("#nickname").fill(nickname)
        if wait_connected:
            expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        return page

    def screenshot(self, page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def pages(browser, start_server):
    """pages.open(url, nickname) -> a Page in its own context; checks console and network after.

    Depends on start_server so that its contexts close before the test's servers stop.
    """
    p = Pages(browser)
    yield p
    p.close()
    problems = [f"browser console: {e}" for e in p.watch.console_errors]
    problems += [f"request outside the test server: {u}" for u in dict.fromkeys(p.watch.foreign_requests)]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)

"""Pages: plugin templates rendered by core, standalone copies for file://, the index and the client script."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic
from sanic.response import file as file_response
from sanic.response import html, raw, text

from core.api.i18n import Catalogue, negotiate
from core.api.routes import Routes
from core.base.settings import ServerSettings
from core.policies.workers import WEBSOCKET_DEFAULT_SHIM, several_workers

ROOT = Path(__file__).resolve().parents[2]  # the project folder (templates/, node_modules/)
CORE_TEMPLATES = ROOT / "templates"
CLIENT_SCRIPT_ROUTE = "/socket.io/socket.io.js"
PAGE_METHODS = ("GET", "HEAD")

log = logging.getLogger("chat.pages")


@dataclass(frozen=True)
class Page:
    """A page a plugin serves, listed on the index."""

    plugin: str
    path: str
    title: str | None  # None: the catalogue's "title"
    standalone_path: str | None
    catalogue: Catalogue

    def title_in(self, lang: str) -> str:
        return self.title or self.catalogue.text(lang, "title")


def request_origin(request: Request) -> str:
    """scheme://host[:port] the request was made to, as a trusted proxy reports it."""
    scheme = {"ws": "http", "wss": "https"}.get(request.scheme, request.scheme)
    return f"{scheme}://{request.host or request.server_name}"


def template_environment(*folders: Path) -> Environment:
    """Jinja with autoescaping, looking in the given folders, then in the shared templates/."""
    loader = ChoiceLoader([FileSystemLoader(str(f)) for f in (*folders, CORE_TEMPLATES)])
    return Environment(loader=loader, autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Extension:
    """A script (and optional stylesheet) one plugin adds to another plugin's page."""

    plugin: str
    page_path: str
    script: str | None  # URL path of the served file
    style: str | None
    # The extending plugin's messages/<lang>.json; its script reads them as chat.t("<plugin>.<key>").
    catalogue: Catalogue | None = None


class Pages:
    """Registers page routes on the app and keeps the list the index shows."""

    def __init__(self, app: Sanic, server: ServerSettings, transports: list[str], routes: Routes):
        self._app = app
        self._server = server
        self._transports = transports
        self._routes = routes
        self.pages: list[Page] = []
        self.extensions: list[Extension] = []
        self._static: set[str] = set()

    def language(self, request: Request) -> str:
        """The page's language: server.language, else the browser's (Accept-Language)."""
        return negotiate(request.headers.get("accept-language"), self._server.language)

    def page_context(self, request: Request, standalone: bool, path: str | None = None,
                     catalogue: Catalogue | None = None) -> dict[str, Any]:
        """What every page template gets: where the socket, the client script and extensions
        live, and the words (messages/<lang>.json) in the page's language."""
        # public_url when set; otherwise where this page was fetched from, so that a copy
        # saved from any host or port talks to the server it came from.
        base = (self._server.public_url or request_origin(request)) if standalone else ""
        mine = [e for e in self.extensions if e.page_path == path]
        catalogue = catalogue or Catalogue(CORE_TEMPLATES)
        lang = self.language(request)
        langs = catalogue.all() if standalone else {lang: catalogue.messages(lang)}
        words = {code: {**messages, **{f"{e.plugin}.{key}": text for e in mine if e.catalogue
                                       for key, text in e.catalogue.messages(code).items()}}
                 for code, messages in langs.items()}
        return {
            "standalone": standalone,
            "socket_url": base,
            "client_script": base + CLIENT_SCRIPT_ROUTE,
            "transports": self._transports,
            "extension_scripts": [base + e.script for e in mine if e.script],
            "extension_styles": [base + e.style for e in mine if e.style],
            "lang": lang,
            "t": lambda key, **values: catalogue.text(lang, key, **values),
            # Read by templates/chat.js. A standalone page carries every language and follows
            # navigator.language where it is opened, unless server.language fixes one.
            "page_config": {
                "socketUrl": base,
                "clientScript": base + CLIENT_SCRIPT_ROUTE,
                "transports": self._transports,
                "lang": lang,
                "followBrowser": standalone and self._server.language == "auto",
                "messages": words,
            },
        }

    def serve_static(self, plugin: str, folder: Path, file: str) -> str | None:
        """Serve folder/static/<file> at /plugins/<plugin>/static/<file>; its URL path, or None if missing."""
        static = (folder / "static").resolve()
        target = (static / file).resolve()
        if not target.is_relative_to(static) or not target.is_file():
            return None
        url = f"/plugins/{plugin}/static/{target.relative_to(static).as_posix()}"
        if url in self._static:
            return url
        if not self._routes.claim(f"plugins.{plugin}", url, PAGE_METHODS):
            return None
        self._static.add(url)
        mime = "text/css" if target.suffix == ".css" else \
            "application/javascript" if target.suffix in (".js", ".mjs") else None

        async def serve(request: Request):
            return await file_response(target, mime_type=mime)

        self._app.add_route(serve, url, methods=list(PAGE_METHODS), name=f"static_{len(self._static)}")
        return url

    def extend(self, plugin: str, folder: Path, page_path: str, script: str | None,
               style: str | None, problems: list[str]) -> None:
        """Add plugin's static script and/or style to the page at page_path (and its standalone copy)."""
        urls = []
        for kind, file in (("script", script), ("style", style)):
            url = self.serve_static(plugin, folder, file) if file else None
            if file and url is None:
                problems.append(f"plugins.{plugin}: extend_page({page_path!r}): {kind} {file!r} is not a "
                                f"file in {folder / 'static'}")
                return
            urls.append(url)
        if not script and not style:
            problems.append(f"plugins.{plugin}: extend_page({page_path!r}) needs a script or a style")
            return
        self.extensions.append(Extension(plugin, page_path, *urls, catalogue=Catalogue(folder)))

    def check_extensions(self, problems: list[str]) -> None:
        """Every extended page exists (checked once every plugin has added its pages)."""
        known = {p.path for p in self.pages}
        for ext in self.extensions:
            if ext.page_path not in known:
                problems.append(f"plugins.{ext.plugin}: extend_page({ext.page_path!r}): no page at that "
                                f"path (pages: {', '.join(sorted(known)) or 'none'})")

    def add(self, plugin: str, env: Environment, path: str, template: str, title: str | None,
            standalone_path: str | None = None, *, catalogue: Catalogue | None = None,
            **context: Any) -> None:
        """Serve template at path, and a copy that works from file:// at standalone_path."""
        tmpl = env.get_template(template)
        owner = f"plugins.{plugin}"
        if not self._routes.claim(owner, path, PAGE_METHODS) or \
                (standalone_path and not self._routes.claim(owner, standalone_path, PAGE_METHODS)):
            return
        catalogue = catalogue or Catalogue(CORE_TEMPLATES)
        page = Page(plugin, path, title, standalone_path, catalogue)

        def render(request: Request, standalone: bool) -> str:
            ctx = self.page_context(request, standalone, path, catalogue)
            return tmpl.render(title=page.title_in(ctx["lang"]), **ctx, **context)

        async def serve(request: Request):
            return html(render(request, False))

        self._app.add_route(serve, path, methods=list(PAGE_METHODS),
                            name=f"{plugin}_{template}".replace(".", "_"))
        if standalone_path:
            async def serve_standalone(request: Request):
                return html(render(request, True))

            self._app.add_route(serve_standalone, standalone_path, methods=list(PAGE_METHODS),
                                name=f"{plugin}_{template}_standalone".replace(".", "_"))
        self.pages.append(page)

    def add_index(self) -> None:
        """GET / lists the pages of the enabled plugins."""
        env = template_environment()
        self._routes.claim("core", "/", PAGE_METHODS)
        catalogue = Catalogue(CORE_TEMPLATES)

        async def index(request: Request):
            lang = self.language(request)
            return html(env.get_template("index.html").render(
                pages=self.pages, lang=lang, t=lambda key, **v: catalogue.text(lang, key, **v)))

        self._app.add_route(index, "/", methods=list(PAGE_METHODS), name="index")

    def add_client_script(self, root: Path = ROOT) -> None:
        """Serve the official socket.io browser client from the npm package, or say it is missing."""
        script = Path(self._server.client_script)
        if not script.is_absolute():
            script = root / script
        if script.is_file() and several_workers(self._server):
            body = script.read_bytes() + WEBSOCKET_DEFAULT_SHIM  # io() defaults to websocket

            async def client(request: Request):
                return raw(body, content_type="application/javascript")
        elif script.is_file():
            async def client(request: Request):
                return await file_response(script, mime_type="application/javascript")
        else:
            log.error("socket.io browser client not found at %s: pages cannot connect; "
                      "run `make setup` (npm install) to fetch it", script)

            async def client(request: Request):
                return text("socket.io client not installed on this server (run make setup)",
                            status=404)

        self._app.add_route(client, CLIENT_SCRIPT_ROUTE, methods=list(PAGE_METHODS), name="socketio_client")

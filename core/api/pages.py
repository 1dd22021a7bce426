"""Pages: plugin templates rendered by core, standalone copies for file://, the index and the client script."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic
from sanic.response import file as file_response
from sanic.response import html, text

from core.base.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[2]  # the project folder (templates/, node_modules/)
CORE_TEMPLATES = ROOT / "templates"
CLIENT_SCRIPT_ROUTE = "/socket.io/socket.io.js"

log = logging.getLogger("chat.pages")


@dataclass(frozen=True)
class Page:
    """A page a plugin serves, listed on the index."""

    plugin: str
    path: str
    title: str
    standalone_path: str | None


def template_environment(*folders: Path) -> Environment:
    """Jinja with autoescaping, looking in the given folders, then in the shared templates/."""
    loader = ChoiceLoader([FileSystemLoader(str(f)) for f in (*folders, CORE_TEMPLATES)])
    return Environment(loader=loader, autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


class Pages:
    """Registers page routes on the app and keeps the list the index shows."""

    def __init__(self, app: Sanic, server: ServerSettings, transports: list[str]):
        self._app = app
        self._server = server
        self._transports = transports
        self.pages: list[Page] = []

    def page_context(self, standalone: bool) -> dict[str, Any]:
        """What every page template gets: where the socket and the client script live."""
        base = self._server.public_url.rstrip("/") if standalone else ""
        return {
            "standalone": standalone,
            "socket_url": base,
            "client_script": base + CLIENT_SCRIPT_ROUTE,
            "transports": self._transports,
        }

    def add(self, plugin: str, env: Environment, path: str, template: str, title: str,
            standalone_path: str | None = None, **context: Any) -> None:
        """Serve template at path, and a copy that works from file:// at standalone_path."""
        tmpl = env.get_template(template)

        def render(standalone: bool) -> str:
            return tmpl.render(title=title, **self.page_context(standalone), **context)

        async def serve(request: Request):
            return html(render(False))

        self._app.add_route(serve, path, methods=["GET"], name=f"{plugin}_{template}".replace(".", "_"))
        if standalone_path:
            async def serve_standalone(request: Request):
                return html(render(True))

            self._app.add_route(serve_standalone, standalone_path, methods=["GET"],
                                name=f"{plugin}_{template}_standalone".replace(".", "_"))
        self.pages.append(Page(plugin, path, title, standalone_path))

    def add_index(self) -> None:
        """GET / lists the pages of the enabled plugins."""
        env = template_environment()

        async def index(request: Request):
            return html(env.get_template("index.html").render(pages=self.pages))

        self._app.add_route(index, "/", methods=["GET"], name="index")

    def add_client_script(self, root: Path = ROOT) -> None:
        """Serve the official socket.io browser client from the npm package, or say it is missing."""
        script = Path(self._server.client_script)
        if not script.is_absolute():
            script = root / script
        if script.is_file():
            async def client(request: Request):
                return await file_response(script, mime_type="application/javascript")
        else:
            log.error("socket.io browser client not found at %s: pages cannot connect; "
                      "run `make setup` (npm install) to fetch it", script)

            async def client(request: Request):
                return text("socket.io client not installed on this server (run make setup)",
                            status=404)

        self._app.add_route(client, CLIENT_SCRIPT_ROUTE, methods=["GET"], name="socketio_client")

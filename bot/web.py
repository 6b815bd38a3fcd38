"""The product's pages on the Rasa server: the demo shop at `/` and the widget's files.

Only the files listed here are served; nothing else under widget/ (npm's node_modules
included) is reachable.
"""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Sanic, response
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse

WIDGET = Path(__file__).resolve().parent.parent / "widget"
JAVASCRIPT, CSS, HTML = "text/javascript; charset=utf-8", "text/css; charset=utf-8", "text/html; charset=utf-8"
WIDGET_FILES = {
    "supportbot.js": (WIDGET / "supportbot.js", JAVASCRIPT),
    "supportbot.css": (WIDGET / "supportbot.css", CSS),
    "socket.io.min.js": (WIDGET / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js", JAVASCRIPT),
}
DEMO_PAGES = {
    "/": WIDGET / "demo" / "index.html",
    "/demo/delivery.html": WIDGET / "demo" / "delivery.html",
    "/demo/ms.html": WIDGET / "demo" / "ms.html",  # the embed options: Malay, left, own colour, open
}
# Browsers check for a newer file on every load: an edited widget shows up at once.
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def install(app: Sanic) -> None:
    """Add the widget's files and the demo pages to the Rasa server's app."""
    files = Blueprint("widget_files", url_prefix="/widget")

    @files.get("/<name>")
    async def widget_file(_: Request, name: str) -> HTTPResponse:
        if name not in WIDGET_FILES:
            raise NotFound(f"no widget file {name}")
        path, mime_type = WIDGET_FILES[name]
        return await response.file(path, mime_type=mime_type, headers=NO_CACHE)

    app.blueprint(files)

    # Rasa answers `GET /` with its version; the demo shop page takes its place.
    async def demo_page(request: Request) -> HTTPResponse | None:
        page = DEMO_PAGES.get(request.path)
        if page is None or request.method != "GET":
            return None
        return await response.file(page, mime_type=HTML, headers=NO_CACHE)

    app.register_middleware(demo_page, "request")

"""The dashboard: a static page and script served next to the API, with a strict Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from animus.config import WorkflowConfig
    from animus.config.project import Project

STATIC_DIR = Path(__file__).parent / "static"
# Scripts and styles only from this origin, no inline code: a title like <script>…</script> stays text.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", _index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(
    project: Project,
    *,
    config: WorkflowConfig | None,
    token: str,
    on_change: Callable[[], None] | None = None,
    bind_host: str = "127.0.0.1",
    poll_secs: float = 0.25,
) -> Starlette:
    """The API plus the dashboard at ``/``: what the daemon (and `animus web serve`) listens with."""
    from animus import api

    return api.create_app(project, config=config, token=token, on_change=on_change, bind_host=bind_host,
                          extra_routes=dashboard_routes(), poll_secs=poll_secs)


def dashboard_url(host: str, port: int, token: str | None = None) -> str:
    """The dashboard's URL; with ``token`` it carries ``#token=…`` (a fragment never reaches the server or logs)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"#token={quote(token, safe='')}" if token else "")


def asset_names() -> list[str]:
    return sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())



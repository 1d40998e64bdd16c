"""The Starlette application: the endpoint table, JSON errors for unknown paths, the Host check, security headers, lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from animus.api import _events, _queue, _runs, _status, _tasks, _triggers
from animus.api._endpoint import ApiState, Endpoint, _asgi_endpoint, _error_response
from animus.api._hosts import HostGuard
from animus.api._openapi import _openapi_spec

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.config.project import Project

ENDPOINTS: tuple[Endpoint, ...] = (
    *_tasks.ENDPOINTS,
    *_queue.ENDPOINTS,
    *_runs.ENDPOINTS,
    *_events.ENDPOINTS,
    *_status.ENDPOINTS,
    *_triggers.ENDPOINTS,
)
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Headers every response carries: no MIME sniffing, no referrer, never framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def create_app(
    project: Project,
    *,
    config: WorkflowConfig | None,
    token: str,
    on_change: Callable[[], None] | None = None,
    bind_host: str = "127.0.0.1",
    extra_routes: Sequence[BaseRoute] = (),
    poll_secs: float = 0.25,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The HTTP API of ``project`` (``/api/v1/...`` and ``/api/openapi.json``).

    ``config`` None reloads ``.animus/workflows.yaml`` on each use; ``on_change`` is called after a
    request changed the queue or a run (the daemon passes one that wakes its dispatch); ``bind_host`` decides whether reads need the token too
    (``serve_in_thread`` sets it from the address it binds); ``extra_routes`` is how the dashboard
    (``animus.web``) adds its pages; ``allowed_hosts`` are Host names answered besides loopback and
    the bound address (None: ``daemon.http.allowed_hosts`` of the config).
    """
    from animus import __version__

    state = ApiState(project=project, config=config, token=token, on_change=on_change, bind_host=bind_host,
                     poll_secs=poll_secs)
    spec = _openapi_spec(ENDPOINTS, version=__version__)

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    routes: list[BaseRoute] = [Route("/api/openapi.json", openapi, methods=["GET"])]
    for endpoint in ENDPOINTS:
        routes.append(Route(endpoint.path, _asgi_endpoint(endpoint, state), methods=[endpoint.method]))
    routes.extend(extra_routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
    if allowed_hosts is None:
        allowed_hosts = _configured_hosts(project, config)
    app.add_middleware(HostGuard, allowed=allowed_hosts, bind_host=lambda: state.bind_host)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: the Host refusal carries the headers too
    app.state.api = state
    app.state.openapi = spec
    return app


def _configured_hosts(project: Project, config: WorkflowConfig | None) -> tuple[str, ...]:
    if config is None:
        from animus.config import load_config
        from animus.domain.errors import AnimusError

        try:
            config = load_config(project)
        except AnimusError:  # no or broken config: loopback only; the requests that need it say what is wrong
            return ()
    return config.daemon.http.allowed_hosts


def api_state(app: Any) -> ApiState:
    state: ApiState = app.state.api
    return state

"""The HTTP API: Starlette routes under /api/v1 over the same services as the CLI, one presenter, one error shape.

Example::

    from animus.api import create_app, ensure_token, serve_in_thread
    app = create_app(project, config=config, token=ensure_token(project.state_dir))
    server = serve_in_thread(app, "127.0.0.1", 4177)
    ...
    server.stop()
"""

from animus.api import _present as present
from animus.api._app import ENDPOINTS, SecurityHeaders, api_state, create_app
from animus.api._endpoint import (
    ApiState,
    BodyTimeout,
    Endpoint,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    http_status,
)
from animus.api._hosts import HostGuard
from animus.api._server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_HTTP_PORT,
    ServerHandle,
    http_port,
    is_loopback,
    serve_in_thread,
)
from animus.api._token import ensure_token, token_matches, token_path
from animus.api._triggers import expected_signature, render_template

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ENDPOINTS",
    "ENV_HTTP_PORT",
    "ApiState",
    "BodyTimeout",
    "Endpoint",
    "HostGuard",
    "PayloadTooLarge",
    "RateLimited",
    "SecurityHeaders",
    "ServerHandle",
    "Unauthorized",
    "api_state",
    "create_app",
    "ensure_token",
    "expected_signature",
    "http_port",
    "http_status",
    "is_loopback",
    "present",
    "render_template",
    "serve_in_thread",
    "token_matches",
    "token_path",
]

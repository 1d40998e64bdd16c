"""One API endpoint as data (method, path, handler, auth, OpenAPI metadata) and how a request reaches it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from animus.api._token import token_matches
from animus.domain.errors import AnimusError, Conflict, InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.config.project import Project
    from animus.store import Store

_log = logging.getLogger("animus.api")
_MAX_BODY_BYTES = 1_048_576
_BODY_TIMEOUT_SECS = 30.0  # the whole body, however it trickles in: a stalled upload must not hold a request forever
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Unauthorized(AnimusError):
    """The request lacks the API token (or a trigger's signature) it needs."""

    code = "unauthorized"


class RateLimited(AnimusError):
    """Too many requests for this trigger in the last minute."""

    code = "rate_limited"


class PayloadTooLarge(AnimusError):
    """The request body is (or declares to be) over the limit; refused before it is read in full."""

    code = "payload_too_large"


class BodyTimeout(AnimusError):
    """The request body did not arrive in time."""

    code = "request_timeout"


_STATUS_BY_ERROR: tuple[tuple[type[AnimusError], int], ...] = (
    (Unauthorized, 401),
    (PayloadTooLarge, 413),
    (BodyTimeout, 408),
    (RateLimited, 429),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)


def http_status(err: AnimusError) -> int:
    for cls, status in _STATUS_BY_ERROR:
        if isinstance(err, cls):
            return status
    return 500


def _error_response(status: int, code: str, message: str, hint: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


@dataclass
class ApiState:
    """What every handler gets: the project, its config, the token, one shared store and a wake-up for the daemon."""

    project: Project
    config: WorkflowConfig | None
    token: str
    on_change: Callable[[], None] | None = None  # the daemon's: look at the queue now, not at the next poll
    bind_host: str = "127.0.0.1"
    poll_secs: float = 0.25
    _store: Store | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def public(self) -> bool:
        """Bound to a non-loopback address: every request, reads too, needs the token."""
        return self.bind_host not in _LOOPBACK_HOSTS

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from animus import procs
                from animus.store import open_store

                layout = self.project.layout
                procs.private_dir(layout.state_dir, top=layout.private_top)
                self._store = open_store(db_path=layout.db_path)
            return self._store

    def workflow_config(self) -> WorkflowConfig:
        if self.config is None:
            from animus.config import load_config

            return load_config(self.project)
        return self.config

    def queue_changed(self) -> None:
        """Tell whoever serves us (the daemon) that the queue or a run changed."""
        if self.on_change is not None:
            self.on_change()

    @property
    def secrets_env(self) -> Mapping[str, str]:
        """Every secret agent output may echo: the process env's and the configuration's (profile ``env:``, ``api_key_env``)."""
        from animus.domain.errors import AnimusError
        from animus.procs import secret_env

        try:
            config = self.workflow_config()
        except AnimusError:
            return secret_env(os.environ)
        return secret_env(os.environ, *config.declared_envs(), named=config.api_key_names())

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


@dataclass(frozen=True)
class _Call:
    """One request as a handler sees it (already authenticated, body parsed)."""

    state: ApiState
    path: dict[str, str]
    query: Mapping[str, str]
    query_lists: dict[str, list[str]]
    body: dict[str, Any]
    raw_body: bytes
    headers: Mapping[str, str]

    def store(self) -> Store:
        return self.state.store()


@dataclass(frozen=True)
class _Param:
    """A query parameter, for validation docs and the OpenAPI spec."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    repeated: bool = False


@dataclass(frozen=True)
class Endpoint:
    """A route with everything the server and the OpenAPI spec need to know about it."""

    method: str
    path: str
    handler: Callable[..., Any]  # (Call) -> payload, run in a worker thread; stream: async (Request, ApiState)
    summary: str
    tag: str
    query: tuple[_Param, ...] = ()
    body: dict[str, Any] | None = None
    status: int = 200
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    auth: str = "default"  # default: token for mutations (and reads when public) | handler: checks itself
    before_body: Callable[[ApiState, dict[str, str]], object] | None = None  # e.g. 404 an unknown id before reading
    stream: bool = False  # an async SSE handler: gets (Request, ApiState), returns a Response

    @property
    def mutation(self) -> bool:
        return self.method != "GET"

    @property
    def operation_id(self) -> str:
        return getattr(self.handler, "__name__", "op").strip("_")


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _check_token(state: ApiState, headers: Mapping[str, str]) -> None:
    if not token_matches(state.token, _bearer(headers)):
        raise Unauthorized(
            "this request needs the API token (header `Authorization: Bearer <token>`)",
            hint="print it with `animus web token`",
        )


def _authorize(endpoint: Endpoint, state: ApiState, headers: Mapping[str, str]) -> None:
    if endpoint.auth == "handler":
        return
    from animus.api._hosts import _addressed_by_loopback

    # reads are open only to local clients: not on a public bind, nor through an allowed name (a proxy, the LAN)
    if endpoint.mutation or state.public or not _addressed_by_loopback(headers.get("host", "")):
        _check_token(state, headers)


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is known to exceed the limit: from Content-Length, or while it streams."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit() or len(declared) > 18):
        raise InvalidInput("Content-Length must be a number of bytes")
    if declared is not None and int(declared) > _MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is {declared} bytes; the limit is {_MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(_BODY_TIMEOUT_SECS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > _MAX_BODY_BYTES:
                    raise PayloadTooLarge(f"the request body is over the limit of {_MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"the request body did not arrive within {_BODY_TIMEOUT_SECS:g}s") from None
    return b"".join(chunks)


def _parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def _asgi_endpoint(endpoint: Endpoint, state: ApiState) -> Callable[[Request], Any]:
    """The Starlette endpoint for ``endpoint``: auth, body, the handler in a worker thread, error mapping."""

    async def handle(request: Request) -> Response:
        body_read = not endpoint.mutation
        try:
            _authorize(endpoint, state, request.headers)
            if endpoint.stream:
                response: Response = await endpoint.handler(request, state)
                return response
            if endpoint.before_body is not None:
                await run_in_threadpool(endpoint.before_body, state, dict(request.path_params))
            raw = await _read_body(request) if endpoint.mutation else b""
            body_read = True
            body = _parse_body(raw) if endpoint.body is not None and endpoint.auth != "handler" else {}
            query_lists: dict[str, list[str]] = {}
            for key, value in request.query_params.multi_items():
                query_lists.setdefault(key, []).append(value)
            call = _Call(state, dict(request.path_params), request.query_params, query_lists, body, raw, request.headers)
            result = await run_in_threadpool(endpoint.handler, call)
        except AnimusError as err:
            headers = {"Retry-After": str(err.details.get("retry_after", 60))} if isinstance(err, RateLimited) else None
            if isinstance(err, Unauthorized):
                headers = {"WWW-Authenticate": "Bearer"}
            if not body_read:  # refused before (or while) reading the body: hang up instead of waiting for the rest
                headers = {**(headers or {}), "Connection": "close"}
            return _error_response(http_status(err), err.code, err.message, err.hint, headers)
        except Exception as exc:  # an animus bug: answer 500 with no internals, keep the traceback in the log
            _log.exception("internal error in %s %s", endpoint.method, endpoint.path)
            return _error_response(500, "internal", f"internal error: {type(exc).__name__}")
        if isinstance(result, Response):
            return result
        return JSONResponse(result, status_code=endpoint.status)

    handle.__name__ = endpoint.operation_id
    return handle

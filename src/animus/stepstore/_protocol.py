"""The step-store protocol: one JSON-RPC message in, one out, whichever transport carried it.

The handshake of the Animus plugin protocol (``initialize`` → ``plugin_kind: "durable_store"``,
``initialized``, ``$/ping``, ``health/check``, ``shutdown``, ``exit``) is answered, but never
required: a client may call the five methods directly. Parameters are checked here; what they mean
is the engine's (``animus.engine.StepJournal``).
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from typing import Any

from animus import __version__
from animus.domain.errors import AnimusError, Fenced, InvalidInput, NotFound
from animus.engine import StepJournal
from animus.plugins._jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PROTOCOL_VERSION,
    RpcError,
    decode,
    error_response,
    response,
)

#: a call from an epoch older than the run's newest (fencing): this runner lost the run
STALE_EPOCH = -1010
#: the run or step named does not exist
UNKNOWN_RUN_OR_STEP = -1011

PLUGIN_NAME = "animus-step-store"
METHODS = ("begin_workflow_run", "begin_step", "commit_step", "recover_in_flight", "complete_workflow_run")
_HANDSHAKE = ("initialize", "initialized", "shutdown", "exit", "$/ping", "health/check")


class StepStoreProtocol:
    """Answers messages for one journal; safe to share between connection threads."""

    def __init__(self, journal: StepJournal) -> None:
        self.journal = journal
        self.started = time.monotonic()
        self.last_error: str | None = None
        self.exit_requested = threading.Event()
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "initialize": self._initialize,
            "shutdown": lambda _p: None,
            "$/ping": lambda _p: {},
            "health/check": self._health,
            "begin_workflow_run": self._begin_workflow_run,
            "begin_step": self._begin_step,
            "commit_step": self._commit_step,
            "recover_in_flight": self._recover_in_flight,
            "complete_workflow_run": self._complete_workflow_run,
        }

    def handle_line(self, line: bytes) -> bytes | None:
        """The reply line to one wire line (None for a notification)."""
        try:
            message = decode(line)
        except RpcError as exc:
            return error_response(None, exc)
        if message.is_notification:
            if message.method == "exit":
                self.exit_requested.set()
            return None  # ``initialized`` and any other notification need no answer
        if not message.is_request:
            return error_response(message.id, RpcError(INVALID_REQUEST, "expected a request with `method` and `id`"))
        try:
            return response(message.id, self.call(message.method or "", message.params))
        except RpcError as exc:
            self.last_error = exc.message
            return error_response(message.id, exc)

    def call(self, method: str, params: Any) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"unknown method {method!r}", {"methods": [*METHODS, *_HANDSHAKE]})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, f"{method}: params must be an object")
        try:
            return handler(params)
        except RpcError:
            raise
        except Fenced as exc:
            raise RpcError(STALE_EPOCH, exc.message, exc.details) from exc
        except NotFound as exc:
            raise RpcError(UNKNOWN_RUN_OR_STEP, exc.message, exc.details or None) from exc
        except InvalidInput as exc:
            raise RpcError(INVALID_PARAMS, exc.message, exc.details or None) from exc
        except AnimusError as exc:
            raise RpcError(INTERNAL_ERROR, exc.message, {"code": exc.code}) from exc

    # -- the handshake ------------------------------------------------------------------------------
    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "protocol_version": PROTOCOL_VERSION,
            "plugin_info": {"name": PLUGIN_NAME, "version": __version__, "plugin_kind": "durable_store"},
            "capabilities": {"methods": list(METHODS), "streaming": False},
        }

    def _health(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": "healthy",
            "uptime_ms": int((time.monotonic() - self.started) * 1000),
            "memory_usage_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "last_error": self.last_error,
        }

    # -- the five methods ---------------------------------------------------------------------------
    def _begin_workflow_run(self, p: dict[str, Any]) -> dict[str, Any]:
        epoch = self.journal.begin_workflow_run(_text(p, "run_id"), _text(p, "phase_id"), p.get("inputs"))
        return {"epoch": epoch}

    def _begin_step(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.journal.begin_step(
            run_id=_text(p, "run_id"), phase_id=_text(p, "phase_id"), step_name=_text(p, "step_name"),
            idempotency_key=_text(p, "idempotency_key"), payload=p.get("payload"), epoch=_epoch(p),
        ))

    def _commit_step(self, p: dict[str, Any]) -> dict[str, Any]:
        output, error = _outcome(p, "commit_step")
        self.journal.commit_step(_text(p, "step_id"), epoch=_epoch(p), output=output, error=error)
        return {"ack": True}

    def _recover_in_flight(self, p: dict[str, Any]) -> list[Any]:
        since = p.get("since_epoch", 0)
        if since is None:
            since = 0
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise RpcError(INVALID_PARAMS, "recover_in_flight: `since_epoch` must be a non-negative integer")
        return list(self.journal.recover_in_flight(since))

    def _complete_workflow_run(self, p: dict[str, Any]) -> dict[str, Any]:
        output, error = _outcome(p, "complete_workflow_run")
        epoch = _epoch(p) if p.get("epoch") is not None else None
        self.journal.complete_workflow_run(_text(p, "run_id"), output=output, error=error, epoch=epoch)
        return {"ack": True}


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise RpcError(INVALID_PARAMS, f"`{name}` must be a non-empty string")
    return value


def _epoch(params: dict[str, Any]) -> int:
    value = params.get("epoch")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RpcError(INVALID_PARAMS, "`epoch` must be the integer begin_workflow_run returned (it fences stale owners)")
    return value


def _outcome(params: dict[str, Any], method: str) -> tuple[Any, Any]:
    """``(output, None)`` or ``(None, error)``: exactly one of the two is given (``output`` may be null)."""
    has_output, has_error = "output" in params, params.get("error") is not None
    if has_output == has_error:
        raise RpcError(INVALID_PARAMS, f"{method}: give exactly one of `output` and `error`")
    if has_error:
        return None, params["error"]
    return params["output"], None

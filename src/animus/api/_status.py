"""Health, daemon status and the dashboard's overview endpoints, rendered from the one status snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import ApiState, Endpoint, _Call
from animus.domain.errors import AnimusError

if TYPE_CHECKING:
    from animus.config import DaemonInfo


def _read_daemon_info(state: ApiState) -> DaemonInfo | None:
    from animus.config import read_daemon_info

    return read_daemon_info(state.project.state_dir)


def _health(call: _Call) -> dict[str, Any]:
    return {"ok": True, "project": call.state.project.root.name}


def _daemon_status(call: _Call) -> dict[str, Any]:
    store = call.store()
    health = services.daemon_health(store, present._daemon_status(_read_daemon_info(call.state)))
    try:
        config = call.state.workflow_config()
    except AnimusError:
        config = None
    health["sources"] = services.source_overview(store, config) if config is not None else []
    return health


def _overview(call: _Call) -> dict[str, Any]:
    return dict(services.overview(call.store(), present._daemon_status(_read_daemon_info(call.state))))


ENDPOINTS = (
    Endpoint("GET", "/api/v1/health", _health, "Liveness: answers while the server runs", "status"),
    Endpoint("GET", "/api/v1/daemon", _daemon_status, "Daemon health, queue depth, running runs, open gates, outbox",
             "status"),
    Endpoint("GET", "/api/v1/overview", _overview,
             "Everything the dashboard's front page shows: board, queue, live runs, gates, health", "status"),
)

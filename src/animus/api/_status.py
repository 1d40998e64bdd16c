"""Health, daemon status and the dashboard's overview endpoints, rendered from the one status snapshot."""

from __future__ import annotations

import json
from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import ApiState, Call, Endpoint

DAEMON_FILE = "daemon.json"


def read_daemon_info(state: ApiState) -> dict[str, Any] | None:
    try:
        data = json.loads((state.project.state_dir / DAEMON_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def health(call: Call) -> dict[str, Any]:
    return {"ok": True, "project": call.state.project.root.name}


def daemon_status(call: Call) -> dict[str, Any]:
    return services.daemon_health(call.store(), present.daemon_status(read_daemon_info(call.state)))


def overview(call: Call) -> dict[str, Any]:
    return dict(services.overview(call.store(), present.daemon_status(read_daemon_info(call.state))))


ENDPOINTS = (
    Endpoint("GET", "/api/v1/health", health, "Liveness: answers while the server runs", "status"),
    Endpoint("GET", "/api/v1/daemon", daemon_status, "Daemon health, queue depth, running runs, open gates, outbox",
             "status"),
    Endpoint("GET", "/api/v1/overview", overview,
             "Everything the dashboard's front page shows: board, queue, live runs, gates, health", "status"),
)

"""Health, daemon status and the dashboard's overview (board, queue, live agents, gates) endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from animus.api import _present as present
from animus.api._endpoint import ApiState, Call, Endpoint
from animus.domain.runs import ACTIVE_RUN_STATUSES, RunStatus

if TYPE_CHECKING:
    from animus.config import DaemonInfo

TERMINAL = tuple(s for s in RunStatus if s not in ACTIVE_RUN_STATUSES)


def read_daemon_info(state: ApiState) -> DaemonInfo | None:
    from animus.config import read_daemon_info

    return read_daemon_info(state.project.state_dir)


def health(call: Call) -> dict[str, Any]:
    return {"ok": True, "project": call.state.project.root.name}


def daemon_status(call: Call) -> dict[str, Any]:
    from animus.store import outbox_summary

    store = call.store()
    data = present.daemon_status(read_daemon_info(call.state))
    entries = call.state.queue.list(store)
    data["queue"] = {s: sum(1 for e in entries if e["status"] == s) for s in ("queued", "held", "dispatched")}
    data["running_runs"] = len(store.list_runs(statuses=(RunStatus.RUNNING,), limit=1000))
    data["waiting_gates"] = len(store.list_runs(statuses=(RunStatus.WAITING_MANUAL,), limit=1000))
    data["outbox"] = outbox_summary(store)
    return data


def overview(call: Call) -> dict[str, Any]:
    from animus.store import TaskQuery, outbox_summary

    store = call.store()
    tasks = store.list_tasks(TaskQuery(limit=2000))
    active = [(r, store.phase_runs(r.id)) for r in store.list_runs(statuses=tuple(ACTIVE_RUN_STATUSES), limit=200)]
    recent = store.list_runs(statuses=TERMINAL, limit=10)
    queue = [present.queue_entry(e) for e in call.state.queue.list(store)]
    data = present.overview(tasks, queue, active, recent, present.daemon_status(read_daemon_info(call.state)),
                            outbox_summary(store))
    data["last_event_seq"] = int(store.conn.execute("SELECT COALESCE(MAX(seq), 0) AS s FROM events")[0]["s"])
    return data


ENDPOINTS = (
    Endpoint("GET", "/api/v1/health", health, "Liveness: answers while the server runs", "status"),
    Endpoint("GET", "/api/v1/daemon", daemon_status, "Daemon health, queue depth, running runs, open gates, outbox",
             "status"),
    Endpoint("GET", "/api/v1/overview", overview,
             "Everything the dashboard's front page shows: board, queue, live runs, gates, health", "status"),
)

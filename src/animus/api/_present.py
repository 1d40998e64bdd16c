"""The presenter: the HTTP API's record payloads (tasks, runs, timelines, agent runs), built in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from animus.domain.runs import DecisionRecord, PhaseRun, WorkflowRun
from animus.domain.tasks import Task

if TYPE_CHECKING:
    from animus.agents import AgentEvent, RunView
    from animus.config import DaemonInfo
    from animus.store import QueueEntry


def _task(t: Task) -> dict[str, Any]:
    return t.to_dict()


def _phase(p: PhaseRun) -> dict[str, Any]:
    return p.to_dict()


def _decision(d: DecisionRecord) -> dict[str, Any]:
    return d.to_dict()


def _run(r: WorkflowRun) -> dict[str, Any]:
    return r.to_dict()


def _run_detail(r: WorkflowRun, phases: list[PhaseRun], decisions: list[DecisionRecord]) -> dict[str, Any]:
    """A run with its timeline: each phase attempt with the verdicts recorded for it."""
    by_attempt: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for d in decisions:
        by_attempt.setdefault((d.phase, d.attempt), []).append(_decision(d))
    timeline = []
    for p in phases:
        verdicts = by_attempt.get((p.phase, p.attempt), [])
        rework = [v["reason"] for v in verdicts if v["effective"] == "rework"]
        timeline.append({**_phase(p), "decisions": verdicts, "rework_reasons": rework})
    open_gates = [p.phase for p in phases if p.status.value == "waiting"]
    return {
        **_run(r),
        "plan_phases": [{"id": ph["id"], "mode": ph["mode"]} for ph in (r.plan or {}).get("phases", [])],
        "phases": timeline,
        "decisions": [_decision(d) for d in decisions],
        "open_gates": open_gates,
    }


def _queue_entry(e: QueueEntry) -> dict[str, Any]:
    return e.to_dict()


def _agent_event(e: AgentEvent, secrets_env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = _redacted(e.to_dict(), secrets_env)
    return out


def _agent_run(view: RunView, secrets_env: Mapping[str, str]) -> dict[str, Any]:
    data = view.to_dict()
    if data.get("outcome"):
        data["outcome"].pop("final_text", None)
    out: dict[str, Any] = _redacted(data, secrets_env)
    return out


def _redacted(payload: Any, secrets_env: Mapping[str, str]) -> Any:
    """``payload`` with every secret value of ``secrets_env`` masked (agent output can echo keys)."""
    from animus.procs import redact

    text = json.dumps(payload, ensure_ascii=False, default=str)
    return json.loads(redact(text, secrets_env))


def _daemon_status(info: DaemonInfo | None) -> dict[str, Any]:
    """The daemon as ``daemon.json`` describes it, if that pid is still the process that wrote it."""
    from animus.procs import is_alive

    if info is None:
        return {"running": False}
    alive = is_alive(info.pid, info.proc_start)
    data: dict[str, Any] = {"running": alive, "pid": info.pid, "started_at": info.started_at,
                            "executor_id": info.executor_id, "pool_size": info.pool_size, "http_port": info.http_port,
                            "config_error": info.config_error}
    if alive:
        data["uptime_secs"] = round(info.uptime_secs, 1)
    return data



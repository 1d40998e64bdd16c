"""What `animus status` shows: daemon, pool, queue depth, running agents, recent results, open gates.

Read-only and DBOS-free: everything comes from ``daemon.json``, the store and the run directories.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animus.config.project import StateLayout
from animus.daemon._info import read_info
from animus.domain.runs import ACTIVE_RUN_STATUSES, PhaseStatus, RunStatus
from animus.domain.tasks import Priority
from animus.store import queue

if TYPE_CHECKING:
    from animus.store import Store

RECENT = 10
_PRIORITY_BY_RANK = {p.rank: p.value for p in Priority}


def daemon_section(state_dir: Path) -> dict[str, Any]:
    info = read_info(state_dir)
    if info is None:
        return {"running": False}
    return {"running": True, **info.to_dict()}


def status_snapshot(store: Store, state_dir: Path) -> dict[str, Any]:
    """One consistent-enough picture of the project's executor and work."""
    from animus.store import outbox_summary

    daemon = daemon_section(state_dir)
    entries = queue.list_entries(store.conn)
    depth = {name: 0 for name in _PRIORITY_BY_RANK.values()}
    for entry in entries:
        if entry.status == "queued":
            depth[_PRIORITY_BY_RANK.get(entry.priority_rank, str(entry.priority_rank))] += 1
    active_runs = store.list_runs(statuses=tuple(ACTIVE_RUN_STATUSES), limit=1_000_000)
    dispatched = [e for e in entries if e.status == "dispatched"]
    active_ids = {r.id for r in active_runs}
    used = sum(1 for e in dispatched if e.run_id in active_ids)
    agents_running, gates = [], []
    for run in sorted(active_runs, key=lambda r: r.created_at):
        for phase in store.phase_runs(run.id):
            if phase.status == PhaseStatus.RUNNING and phase.agent_run_id:
                agents_running.append(_agent_row(run.id, run.task_id, phase, StateLayout(state_dir).runs_dir))
            elif phase.status == PhaseStatus.WAITING:
                gates.append({
                    "run_id": run.id, "task_id": run.task_id, "phase": phase.phase, "attempt": phase.attempt,
                    "waiting_since": phase.started_at,
                    "approve": f"animus workflow approve {run.id} --phase {phase.phase}",
                    "reject": f"animus workflow reject {run.id} --phase {phase.phase}",
                })
    ended = [r for r in store.list_runs(statuses=tuple(s for s in RunStatus if s.is_terminal), limit=200)]
    ended.sort(key=lambda r: r.ended_at or r.updated_at, reverse=True)
    recent = [
        {"run_id": r.id, "task_id": r.task_id, "status": r.status.value, "ended_at": r.ended_at,
         "failure_reason": r.failure_reason, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
         "cost_usd": round(r.cost_usd, 6)}
        for r in ended[:RECENT]
    ]
    return {
        "daemon": daemon,
        "pool": {"size": daemon.get("pool_size"), "used": used},
        "queue": {
            "queued": sum(depth.values()),
            "by_priority": depth,
            "held": sum(1 for e in entries if e.status == "held"),
            "dispatched": len(dispatched),
            "entries": [e.to_dict() for e in entries],
        },
        "active_runs": [{"run_id": r.id, "task_id": r.task_id, "status": r.status.value, "phase": r.current_phase}
                        for r in sorted(active_runs, key=lambda r: r.created_at)],
        "running_agents": agents_running,
        "recent": recent,
        "waiting_gates": gates,
        "notifications": outbox_summary(store),
    }


def _agent_row(run_id: str, task_id: str, phase: Any, runs_dir: Path) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run_id, "task_id": task_id, "phase": phase.phase, "attempt": phase.attempt,
        "agent_run_id": phase.agent_run_id, "started_at": phase.started_at,
        "elapsed_secs": _elapsed(phase.started_at), "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
        "agent_status": None,
    }
    if not (runs_dir / phase.agent_run_id).is_dir():
        return row
    from animus import agents
    from animus.domain.errors import AnimusError

    try:
        view = agents.read_run(phase.agent_run_id, runs_dir)
    except AnimusError:
        return row
    tally = view.cursor.tally
    total = tally.total or {}
    row["input_tokens"] = int(total.get("input_tokens") or tally.step_input)
    row["output_tokens"] = int(total.get("output_tokens") or tally.step_output)
    row["cost_usd"] = round(float(total.get("cost_usd") or tally.step_cost or 0.0), 6)
    row["agent_status"] = view.status
    return row


def _elapsed(started_at: str) -> float:
    try:
        started = datetime.fromisoformat(started_at)
    except ValueError:
        return 0.0
    return round((datetime.now(UTC) - started).total_seconds(), 1)

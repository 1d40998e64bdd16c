"""The status snapshot: one read of queue, runs, gates and outbox, and the views `animus status`, the API and the dashboard show.

Read-only and DBOS-free. The daemon section is the caller's reading of ``daemon.json`` (the CLI's
and the API's readers differ in what they keep of a stopped daemon); everything else comes from here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from animus.domain.runs import ACTIVE_RUN_STATUSES, PhaseRun, PhaseStatus, RunStatus, WorkflowRun
from animus.domain.tasks import Priority, TaskStatus

if TYPE_CHECKING:
    from pathlib import Path

    from animus.store import QueueEntry, Store

_RECENT = 10
_ENDED_WINDOW = 200  # ended runs read per snapshot; the views show the latest RECENT of them
_OVERVIEW_ACTIVE = 200
_OVERVIEW_TASKS = 2000
_ENTRY_STATUSES = ("queued", "held", "dispatched")
_PRIORITY_BY_RANK = {p.rank: p.value for p in Priority}
_TERMINAL = tuple(s for s in RunStatus if s.is_terminal)


@dataclass(frozen=True)
class ActiveRun:
    """A pending, running, gated or PR-waiting run with its phase attempts."""

    run: WorkflowRun
    phases: tuple[PhaseRun, ...]


@dataclass(frozen=True)
class StatusSnapshot:
    """One read of the project's work: every view below is built from it, so they agree."""

    entries: tuple[QueueEntry, ...]  # dispatch order
    active: tuple[ActiveRun, ...]  # newest first
    ended: tuple[WorkflowRun, ...]  # the latest ENDED_WINDOW ended runs, newest first
    outbox: dict[str, Any]

    def count(self, entry_status: str) -> int:
        return sum(1 for e in self.entries if e.status == entry_status)

    def runs_in(self, status: RunStatus) -> int:
        return sum(1 for a in self.active if a.run.status == status)


class QueueDepth(TypedDict):
    queued: int
    by_priority: dict[str, int]
    held: int
    dispatched: int
    entries: list[dict[str, Any]]


class PoolUse(TypedDict):
    size: int | None
    used: int


class GateRow(TypedDict):
    run_id: str
    task_id: str
    phase: str
    attempt: int
    waiting_since: str
    approve: str
    reject: str


class PrRow(TypedDict):
    """A run waiting on its pull request."""

    run_id: str
    task_id: str
    pr_url: str | None
    reworks: int  # reworks its checks and reviews asked for so far
    waiting_since: str  # when the run last changed (it entered waiting_pr, or recorded a decision)


class StatusReport(TypedDict):
    """`animus status --json`."""

    daemon: dict[str, Any]
    pool: PoolUse
    queue: QueueDepth
    active_runs: list[dict[str, Any]]
    running_agents: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    waiting_gates: list[GateRow]
    waiting_prs: list[PrRow]
    paused_providers: list[dict[str, Any]]  # usage limits in force: no agent of these starts before its reset
    parked_runs: list[dict[str, Any]]  # runs waiting_budget, with what they have spent
    notifications: dict[str, Any]


class Overview(TypedDict):
    """`GET /api/v1/overview`: the dashboard's front page."""

    board: dict[str, list[dict[str, Any]]]
    queue: list[dict[str, Any]]
    active_runs: list[dict[str, Any]]
    gates: list[dict[str, Any]]
    recent_runs: list[dict[str, Any]]
    daemon: dict[str, Any]
    outbox: dict[str, Any]
    paused_providers: list[dict[str, Any]]
    parked_runs: list[dict[str, Any]]
    last_event_seq: int


def take_snapshot(store: Store) -> StatusSnapshot:
    active = store.list_runs(statuses=tuple(ACTIVE_RUN_STATUSES), limit=1_000_000)
    return StatusSnapshot(
        entries=tuple(store.queue_entries()),
        active=tuple(ActiveRun(r, tuple(store.phase_runs(r.id))) for r in active),
        ended=tuple(store.list_runs(statuses=_TERMINAL, limit=_ENDED_WINDOW)),
        outbox=store.outbox_summary(),
    )


def status_report(store: Store, daemon: Mapping[str, Any], runs_dir: Path) -> StatusReport:
    """Daemon, pool, queue depth, running agents, recent results and open gates (what `animus status` shows)."""
    snap = take_snapshot(store)
    depth = {name: 0 for name in _PRIORITY_BY_RANK.values()}
    for entry in snap.entries:
        if entry.status == "queued":
            depth[_PRIORITY_BY_RANK.get(entry.priority_rank, str(entry.priority_rank))] += 1
    active_ids = {a.run.id for a in snap.active}
    used = sum(1 for e in snap.entries if e.status == "dispatched" and e.run_id in active_ids)
    oldest_first = sorted(snap.active, key=lambda a: a.run.created_at)
    agents_running: list[dict[str, Any]] = []
    gates: list[GateRow] = []
    prs: list[PrRow] = []
    for item in oldest_first:
        run = item.run
        if run.status == RunStatus.WAITING_PR:
            prs.append(PrRow(run_id=run.id, task_id=run.task_id, pr_url=run.pr_url,
                             reworks=int((run.state.get("pr") or {}).get("reworks") or 0), waiting_since=run.updated_at))
        for phase in item.phases:
            if phase.status == PhaseStatus.RUNNING and phase.agent_run_id:
                agents_running.append(_agent_row(run.id, run.task_id, phase, runs_dir))
            elif phase.status == PhaseStatus.WAITING:
                gates.append(GateRow(
                    run_id=run.id, task_id=run.task_id, phase=phase.phase, attempt=phase.attempt,
                    waiting_since=phase.started_at,
                    approve=f"animus workflow approve {run.id} --phase {phase.phase}",
                    reject=f"animus workflow reject {run.id} --phase {phase.phase}",
                ))
    ended = sorted(snap.ended, key=lambda r: r.ended_at or r.updated_at, reverse=True)
    recent = [
        {"run_id": r.id, "task_id": r.task_id, "status": r.status.value, "ended_at": r.ended_at,
         "failure_reason": r.failure_reason, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
         "cost_usd": round(r.cost_usd, 6)}
        for r in ended[:_RECENT]
    ]
    return StatusReport(
        daemon=dict(daemon),
        pool=PoolUse(size=daemon.get("pool_size"), used=used),
        queue=QueueDepth(queued=sum(depth.values()), by_priority=depth, held=snap.count("held"),
                         dispatched=snap.count("dispatched"), entries=[e.to_dict() for e in snap.entries]),
        active_runs=[{"run_id": a.run.id, "task_id": a.run.task_id, "status": a.run.status.value,
                      "phase": a.run.current_phase, "pr_url": a.run.pr_url} for a in oldest_first],
        running_agents=agents_running,
        recent=recent,
        waiting_gates=gates,
        waiting_prs=prs,
        paused_providers=_paused_providers(store),
        parked_runs=_parked(snap),
        notifications=snap.outbox,
    )


def _paused_providers(store: Store) -> list[dict[str, Any]]:
    """The providers a usage limit pauses now, each with its reset and the seconds left to it."""
    now = time.time()
    return [{**limit.to_dict(), "resets_in_secs": round(limit.resets_at - now, 1)} for limit in store.provider_limits(now)]


def _parked(snap: StatusSnapshot) -> list[dict[str, Any]]:
    return [{"run_id": a.run.id, "task_id": a.run.task_id, "reason": a.run.failure_reason, "cost_usd": round(a.run.cost_usd, 6),
             "input_tokens": a.run.input_tokens, "output_tokens": a.run.output_tokens}
            for a in snap.active if a.run.status == RunStatus.WAITING_BUDGET]


def daemon_health(store: Store, daemon: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /api/v1/daemon`: the daemon section with queue counts, running runs, open gates and the outbox."""
    snap = take_snapshot(store)
    return {
        **daemon,
        "queue": {s: snap.count(s) for s in _ENTRY_STATUSES},
        "running_runs": snap.runs_in(RunStatus.RUNNING),
        "waiting_gates": snap.runs_in(RunStatus.WAITING_MANUAL),
        "waiting_prs": snap.runs_in(RunStatus.WAITING_PR),
        "paused_providers": _paused_providers(store),
        "parked_runs": _parked(snap),
        "outbox": snap.outbox,
    }


def overview(store: Store, daemon: Mapping[str, Any]) -> Overview:
    """The board, the queue, live runs with their agent, open gates, recent runs and health, in one payload."""
    from animus.store import TaskQuery

    snap = take_snapshot(store)
    board: dict[str, list[dict[str, Any]]] = {s.value: [] for s in TaskStatus}
    for task in store.list_tasks(TaskQuery(limit=_OVERVIEW_TASKS)):
        board[task.status.value].append(task.to_dict())
    running: list[dict[str, Any]] = []
    gates: list[dict[str, Any]] = []
    for item in snap.active[:_OVERVIEW_ACTIVE]:
        current = item.phases[-1] if item.phases else None
        running.append({
            **item.run.to_dict(),
            "agent_run_id": current.agent_run_id if current and current.status == PhaseStatus.RUNNING else None,
            "phase_attempt": current.attempt if current else None,
        })
        gates.extend({"run_id": item.run.id, "task_id": item.run.task_id, "phase": p.phase, "attempt": p.attempt,
                      "since": p.started_at} for p in item.phases if p.status == PhaseStatus.WAITING)
    return Overview(
        board=board,
        queue=[e.to_dict() for e in snap.entries],
        active_runs=running,
        gates=gates,
        recent_runs=[r.to_dict() for r in snap.ended[:_RECENT]],
        daemon=dict(daemon),
        outbox=snap.outbox,
        paused_providers=_paused_providers(store),
        parked_runs=_parked(snap),
        last_event_seq=store.last_event_seq(),
    )


def _agent_row(run_id: str, task_id: str, phase: PhaseRun, runs_dir: Path) -> dict[str, Any]:
    assert phase.agent_run_id is not None
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


def plugin_health(state_dir: Path) -> list[dict[str, Any]]:
    """What each plugin's hosts last saw of it (running, crashed, failed to start, stopped); nothing is started."""
    from animus.plugins import read_health

    return read_health(state_dir)

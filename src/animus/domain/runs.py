"""Workflow runs, phase runs and decisions: statuses as persisted strings, plus the records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from animus.domain.errors import Conflict


class RunStatus(StrEnum):
    PENDING = "pending"  # created, the executor has not started it yet
    RUNNING = "running"  # a phase is executing
    WAITING_MANUAL = "waiting_manual"  # parked at a manual gate until approve/reject
    WAITING_PR = "waiting_pr"  # its pull request is open: waiting on checks, reviews and the merge
    WAITING_BUDGET = "waiting_budget"  # a budget is spent: parked until the day rolls over or it is raised
    COMPLETED = "completed"  # all phases advanced and the result landed (terminal)
    FAILED = "failed"  # a phase failed or errored past its retries (terminal, resumable)
    ESCALATED = "escalated"  # rework budget exhausted: a human must look (terminal, resumable)
    MERGE_CONFLICT = "merge_conflict"  # landing conflicted past the rework budget (terminal, resumable)
    CANCELLED = "cancelled"  # stopped by a user (terminal, resumable)

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_RUN_STATUSES

    @property
    def is_terminal(self) -> bool:
        return not self.is_active


ACTIVE_RUN_STATUSES: Final = frozenset(
    {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING_MANUAL, RunStatus.WAITING_PR, RunStatus.WAITING_BUDGET}
)
RESUMABLE_RUN_STATUSES: Final = frozenset(
    {RunStatus.FAILED, RunStatus.ESCALATED, RunStatus.MERGE_CONFLICT, RunStatus.CANCELLED}
)


_R = RunStatus
# Allowed run status changes (data: docs/workflows.md shows this table, tests walk every pair).
# A change to the same status is a no-op. A cancel or an executor error may end an active run at any
# step; a terminal run only moves again when it is resumed (→ pending); a completed run never moves.
RUN_TRANSITIONS: Final[dict[RunStatus, frozenset[RunStatus]]] = {
    _R.PENDING: frozenset({_R.RUNNING, _R.FAILED, _R.CANCELLED}),
    _R.RUNNING: frozenset({_R.WAITING_MANUAL, _R.WAITING_PR, _R.WAITING_BUDGET, _R.COMPLETED, _R.FAILED, _R.ESCALATED, _R.MERGE_CONFLICT, _R.CANCELLED}),
    _R.WAITING_MANUAL: frozenset({_R.RUNNING, _R.FAILED, _R.ESCALATED, _R.CANCELLED}),
    # back to running for a rework the PR asked for; completed when it merged, cancelled when it was closed
    _R.WAITING_PR: frozenset({_R.RUNNING, _R.COMPLETED, _R.FAILED, _R.ESCALATED, _R.CANCELLED}),
    # back to running when the limit no longer holds; failed when on_exceeded turned to fail
    _R.WAITING_BUDGET: frozenset({_R.RUNNING, _R.FAILED, _R.CANCELLED}),
    _R.COMPLETED: frozenset(),
    _R.FAILED: frozenset({_R.PENDING}),
    _R.ESCALATED: frozenset({_R.PENDING}),
    _R.MERGE_CONFLICT: frozenset({_R.PENDING}),
    _R.CANCELLED: frozenset({_R.PENDING}),
}


def check_run_transition(current: RunStatus, target: RunStatus) -> None:
    """Raise ``Conflict`` unless ``current → target`` is in ``RUN_TRANSITIONS`` (or a no-op)."""
    if current == target or target in RUN_TRANSITIONS[current]:
        return
    allowed = sorted(s.value for s in RUN_TRANSITIONS[current])
    raise Conflict(
        f"a run cannot move from {current.value} to {target.value} (allowed from {current.value}: {', '.join(allowed) or 'none'})",
        details={"from": current.value, "to": target.value, "allowed": allowed},
    )


class Verdict(StrEnum):
    ADVANCE = "advance"
    REWORK = "rework"
    SKIP = "skip"
    FAIL = "fail"


class PhaseStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # manual gate open
    ADVANCED = "advanced"
    REWORK = "rework"  # sent the run back to an earlier phase
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class WorkflowRun:
    """One execution of a workflow for one task."""

    id: str
    task_id: str
    workflow: str
    generation: int
    status: RunStatus
    phase_index: int
    current_phase: str | None
    branch: str | None
    worktree: str | None
    base_sha: str | None
    vars: dict[str, str]
    plan: dict[str, Any] | None
    state: dict[str, Any]
    failure_reason: str | None
    landed_sha: str | None
    pr_url: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    created_at: str
    started_at: str | None
    ended_at: str | None
    updated_at: str
    #: the executor (daemon) running the run now, and how often it changed hands (fencing: DESIGN.md 9)
    owner: str | None = None
    owner_epoch: int = 0

    @property
    def dbos_workflow_id(self) -> str:
        return f"animus-run:{self.id}:g{self.generation}"

    def to_dict(self, *, with_plan: bool = False) -> dict[str, Any]:
        data = {
            "id": self.id,
            "task_id": self.task_id,
            "workflow": self.workflow,
            "generation": self.generation,
            "status": self.status.value,
            "phase_index": self.phase_index,
            "current_phase": self.current_phase,
            "branch": self.branch,
            "worktree": self.worktree,
            "base_sha": self.base_sha,
            "vars": self.vars,
            "state": self.state,
            "failure_reason": self.failure_reason,
            "landed_sha": self.landed_sha,
            "pr_url": self.pr_url,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "updated_at": self.updated_at,
            "owner": self.owner,
            "owner_epoch": self.owner_epoch,
        }
        if with_plan:
            data["plan"] = self.plan
        return data


def phase_attempt_id(run_id: str, phase: str, attempt: int) -> str:
    """``<run>-<phase>-<attempt>``: names a phase attempt's agent run and its command log alike."""
    return f"{run_id}-{phase}-{attempt}"


@dataclass(frozen=True)
class PhaseRun:
    """One attempt of one phase within a run (``seq`` orders them within the run)."""

    run_id: str
    seq: int
    phase: str
    attempt: int
    mode: str
    status: PhaseStatus
    agent_run_id: str | None
    commit_sha: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    output_excerpt: str | None
    started_at: str
    ended_at: str | None
    agent: str | None = None  # the agent that ran an agent phase (a fallback's id when one stood in)
    model: str | None = None
    cost_known: bool = True  # False: some of its tokens had no price, so cost_usd is a floor

    @property
    def attempt_id(self) -> str:
        return phase_attempt_id(self.run_id, self.phase, self.attempt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "phase": self.phase,
            "attempt": self.attempt,
            "mode": self.mode,
            "status": self.status.value,
            "agent_run_id": self.agent_run_id,
            "commit_sha": self.commit_sha,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6) if self.cost_known else None,
            "cost_priced_usd": round(self.cost_usd, 6),
            "agent": self.agent,
            "model": self.model,
            "output_excerpt": self.output_excerpt,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


@dataclass(frozen=True)
class DecisionRecord:
    """A verdict as returned (``verdict``) and as applied by the gate (``effective``)."""

    run_id: str
    seq: int
    phase: str
    attempt: int
    source: str  # agent | command | manual | skip_if | gate | land
    verdict: str
    effective: str
    target_phase: str | None
    confidence: float | None
    risk: str | None
    reason: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "phase": self.phase,
            "attempt": self.attempt,
            "source": self.source,
            "verdict": self.verdict,
            "effective": self.effective,
            "target_phase": self.target_phase,
            "confidence": self.confidence,
            "risk": self.risk,
            "reason": self.reason,
            "evidence": self.evidence,
            "at": self.at,
        }


def loads_json(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


@dataclass(frozen=True)
class PhaseSpend:
    """What one ended agent phase attempt spent, with what it ran for (the rows ``animus cost`` sums)."""

    run_id: str
    task_id: str
    workflow: str
    phase: str
    agent: str | None
    model: str | None
    started_at: str
    input_tokens: int
    output_tokens: int
    cost_usd: float  # what could be priced
    cost_known: bool  # False: some of its tokens had no price

"""Operations on runs from any CLI process: approve/reject a gate, wake a run waiting on its PR, cancel, resume, retry.

These never launch DBOS: messages go through ``DBOSClient`` (durably, also while no executor is up)
and state through the store.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Any

from animus.domain.errors import Conflict, InvalidInput, Unavailable
from animus.domain.runs import RESUMABLE_RUN_STATUSES, PhaseStatus, RunStatus, WorkflowRun, check_run_transition
from animus.domain.tasks import TaskStatus
from animus.engine._pr_gate import _pr_topic
from animus.engine._runtime import _dbos_url
from animus.engine._workflow import _gate_topic

if TYPE_CHECKING:
    from pathlib import Path

    from animus.config import WorkflowConfig
    from animus.store import Store


def _client(db_url: str) -> Any:
    import logging

    from dbos import DBOSClient

    logging.getLogger("dbos").addHandler(logging.NullHandler())
    return DBOSClient(system_database_url=_dbos_url(db_url))


def decide_gate(store: Store, db_url: str, run_id: str, phase: str, *, approve: bool, note: str | None) -> dict[str, Any]:
    """Send the decision a manual gate waits for; refused unless that gate is open now."""
    run = store.get_run(run_id)
    waiting = [p for p in store.phase_runs(run_id) if p.phase == phase and p.status == PhaseStatus.WAITING]
    if run.status != RunStatus.WAITING_MANUAL or not waiting:
        open_gates = [p.phase for p in store.phase_runs(run_id) if p.status == PhaseStatus.WAITING]
        raise Conflict(
            f"run {run_id} is not waiting at a manual gate {phase!r} (status {run.status.value}"
            + (f", open gate: {', '.join(open_gates)}" if open_gates else "")
            + ")"
        )
    attempt = waiting[-1].attempt
    message = {"approve": approve, "note": note or "", "by": _user()}
    client = _client(db_url)
    try:
        client.send(run.dbos_workflow_id, message, topic=_gate_topic(phase, attempt), idempotency_key=f"{run_id}:{phase}:{attempt}")
    finally:
        client.destroy()
    return {"run_id": run_id, "phase": phase, "attempt": attempt, "approved": approve, "note": note or ""}


def wake_pr_run(db_url: str, run: WorkflowRun, *, key: str) -> bool:
    """Tell a run waiting on its pull request to look at it now (a webhook said something changed).

    ``key`` makes the message unique (a webhook delivery id): a redelivery sends nothing new. False
    when the run is not waiting on a PR now.
    """
    if run.status != RunStatus.WAITING_PR:
        return False
    from dbos._error import DBOSException

    client = _client(db_url)
    try:
        client.send(run.dbos_workflow_id, {"look": True}, topic=_pr_topic(run.id), idempotency_key=f"{run.id}:{key}")
    except DBOSException as exc:  # e.g. no such workflow yet: the run's next poll looks anyway
        raise Unavailable(f"could not wake run {run.id}: {exc}") from exc
    finally:
        client.destroy()
    return True


def wake_budget_run(db_url: str, run: WorkflowRun) -> bool:
    """Tell a run parked on a budget to check it again now (a person raised it); False when it is not parked."""
    if run.status != RunStatus.WAITING_BUDGET:
        return False
    from dbos._error import DBOSException

    from animus.engine._budgets import _budget_topic

    client = _client(db_url)
    try:
        client.send(run.dbos_workflow_id, {"look": True}, topic=_budget_topic(run.id))
    except DBOSException as exc:
        raise Unavailable(f"could not wake run {run.id}: {exc}") from exc
    finally:
        client.destroy()
    return True


def cancel_run(store: Store, db_url: str, runs_dir: Path, run_id: str) -> WorkflowRun:
    """Stop the run: cancel its workflow, stop the agent's whole process tree, keep the worktree."""
    from animus import procs
    from animus.store import now_iso

    run = store.get_run(run_id)
    if run.status.is_terminal:
        raise Conflict(f"run {run_id} is already {run.status.value}")
    if store.journal_status(run.dbos_workflow_id) is not None:  # no journal yet: nothing to cancel there
        client = _client(db_url)
        try:
            client.cancel_workflow(run.dbos_workflow_id)
        finally:
            client.destroy()
    for phase in store.phase_runs(run_id):
        if phase.status in (PhaseStatus.RUNNING, PhaseStatus.WAITING):
            if phase.agent_run_id and (runs_dir / phase.agent_run_id).is_dir():
                procs.stop(phase.agent_run_id, runs_dir)
            store.update_phase(run_id, phase.seq, status=PhaseStatus.CANCELLED, ended_at=now_iso())
    check_run_transition(run.status, RunStatus.CANCELLED)
    updated = store.update_run(run_id, status=RunStatus.CANCELLED, failure_reason="cancelled by user", ended_at=now_iso())
    if store.get_task(run.task_id).status == TaskStatus.IN_PROGRESS:  # in_progress → blocked: the table allows it
        store.set_status(run.task_id, TaskStatus.BLOCKED, reason=f"run {run_id} cancelled by user")
    return updated


def reopen_for_resume(store: Store, run_id: str) -> WorkflowRun:
    """A failed/escalated/conflicted/cancelled run continues from its last committed step.

    It gets a new generation (a new DBOS workflow on the same run record) and a fresh rework budget
    for the phase that escalated.
    """
    run = store.get_run(run_id)
    if run.status.is_active:
        return run
    if run.status not in RESUMABLE_RUN_STATUSES:
        raise Conflict(f"run {run_id} is {run.status.value}; only failed, escalated, merge_conflict or cancelled runs resume")
    active = store.active_run_for_task(run.task_id)
    if active is not None:
        raise Conflict(f"{run.task_id} already has an active run {active.id}")
    state = dict(run.state)
    if run.status == RunStatus.ESCALATED and run.current_phase:
        counts = dict(state.get("rework_counts", {}))
        counts.pop(run.current_phase, None)
        state["rework_counts"] = counts
    if run.status == RunStatus.MERGE_CONFLICT:
        state["conflict_reworks"] = 0
    pr = state.get("pr")
    if run.status == RunStatus.ESCALATED and isinstance(pr, dict) and pr.get("escalated"):  # the PR loop's budget ran out
        state["pr"] = {**pr, "reworks": 0, "escalated": False}
    check_run_transition(run.status, RunStatus.PENDING)
    return store.update_run(run_id, status=RunStatus.PENDING, generation=run.generation + 1, failure_reason=None, ended_at=None, state=state)


def prepare_retry(
    store: Store, config: WorkflowConfig, run_id: str, *, root: Path, cancel_hint: str | None = None
) -> WorkflowRun:
    """A new run of ``run_id``'s task and workflow from the first phase (the branch is reused).

    Refused while the run is active; a task blocked by the old run becomes ready again.
    """
    from animus.engine._executor import prepare_run

    old = store.get_run(run_id)
    if old.status.is_active:
        raise Conflict(f"run {run_id} is still {old.status.value}", hint=cancel_hint or "cancel it first")
    if store.get_task(old.task_id).status == TaskStatus.BLOCKED:  # blocked → ready: the table allows it
        store.set_status(old.task_id, TaskStatus.READY)
    run, _created = prepare_run(store, config, old.task_id, workflow=old.workflow, variables=old.vars, root=root)
    return run


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def require_phase(run: WorkflowRun, phase: str) -> None:
    if run.plan and phase not in {p["id"] for p in run.plan["phases"]}:
        raise InvalidInput(f"workflow {run.workflow!r} of run {run.id} has no phase {phase!r}")

"""Steering a workflow run from any front end: cancel, resume and retry (the engine does the durable part)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from animus.services._queue import clear_ended_entry, queue_run

if TYPE_CHECKING:
    from pathlib import Path

    from animus.config import WorkflowConfig
    from animus.domain.runs import WorkflowRun
    from animus.store import Store


def cancel_run(store: Store, runs_dir: Path, run_id: str) -> WorkflowRun:
    """Cancel the run (its agent's process tree stops, the worktree stays) and clear its dispatched entry."""
    from animus.engine import cancel_run as cancel

    run = cancel(store, store.url, runs_dir, run_id)
    clear_ended_entry(store, run.task_id)
    return run


def resume_run(store: Store, run_id: str, *, enqueue: bool = False) -> WorkflowRun:
    """Reopen a failed/escalated/conflicted/cancelled run as a new generation.

    With ``enqueue`` its task is queued for the daemon; without, the caller executes it.
    """
    from animus.domain.runs import RunStatus
    from animus.engine import reopen_for_resume, wake_budget_run

    parked = store.get_run(run_id)
    if parked.status == RunStatus.WAITING_BUDGET:  # still alive in its durable wait: wake it to check the budget again
        wake_budget_run(store.url, parked)
        return parked
    run = reopen_for_resume(store, run_id)
    if enqueue:
        queue_run(store, run.task_id, workflow=run.workflow, variables=run.vars)
        run = store.get_run(run.id)
    return run


def retry_run(
    store: Store,
    config: WorkflowConfig,
    run_id: str,
    *,
    root: Path,
    cancel_hint: str | None = None,
    enqueue: bool = False,
) -> WorkflowRun:
    """A new run of the same task and workflow from the first phase (refused while the old one is active).

    With ``enqueue`` the new run is queued for the daemon; without, the caller executes it.
    """
    from animus.engine import prepare_retry

    old = store.get_run(run_id)
    if not old.status.is_active:
        clear_ended_entry(store, old.task_id)
    run = prepare_retry(store, config, old.id, root=root, cancel_hint=cancel_hint)
    if enqueue:
        queue_run(store, run.task_id, workflow=run.workflow, variables=run.vars)
    return run

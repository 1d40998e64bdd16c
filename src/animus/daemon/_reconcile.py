"""Reconciliation at daemon start: make the queue, the runs and the processes on this host agree.

Before DBOS launches (so no workflow can be starting an agent meanwhile): kill agent processes
that belong to no active run, prune worktrees of finished tasks (when configured), drop entries of
ended runs, adopt active runs that have no entry. After launch, DBOS recovery re-attaches in-flight
runs (the agent step re-attaches through procs; a live agent is never spawned again) and the
dispatcher's workflow check enqueues dispatched runs whose workflow never reached DBOS.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from animus.daemon._dispatch import _kv
from animus.domain.errors import AnimusError, NotFound
from animus.domain.runs import ACTIVE_RUN_STATUSES, RunStatus
from animus.domain.tasks import TaskStatus

if TYPE_CHECKING:
    from animus.engine import EngineContext
    from animus.store import Store

_log = logging.getLogger("animus.daemon")


def known_agent_runs(store: Store, ctx: EngineContext, executor_id: str | None = None) -> set[str]:
    """Agent run ids that some active workflow run owns (by phase row, or by the run's ``workflow_run`` label).

    Runs without a ``workflow_run`` label were started by hand (`animus agent run`) and are not ours to kill.
    With ``executor_id``, a run another daemon owns now (it took the run over) owns no agent here.
    """
    from animus import procs

    active = {r.id for r in store.list_runs(statuses=tuple(ACTIVE_RUN_STATUSES), limit=1_000_000)
              if executor_id is None or r.owner in (None, executor_id)}
    known: set[str] = set()
    for run_id in active:
        known.update(p.agent_run_id for p in store.phase_runs(run_id) if p.agent_run_id)
    for summary in procs.list_runs(ctx.runs_dir):
        owner = summary.labels.get("workflow_run")
        if not owner or owner in active:
            known.add(summary.run_id)
    return known


def reconcile_before_launch(
    store: Store, ctx: EngineContext, *, prune_worktrees: bool, executor_id: str | None = None
) -> list[dict[str, Any]]:
    """The start-up repairs that need no DBOS; each action is logged and returned."""
    from animus import procs

    actions: list[dict[str, Any]] = []

    def act(**fields: Any) -> None:
        actions.append(fields)
        _log.info(_kv(event="reconcile", **fields))

    killed = procs.sweep_orphans(ctx.runs_dir, known_agent_runs(store, ctx, executor_id))
    if killed:
        act(action="kill_orphans", pids=",".join(map(str, killed)))
    for entry, run_status in store.dispatched_with_runs():
        if run_status is None or not RunStatus(run_status).is_active:
            store.remove_queue_entry(entry.task_id, f"run {entry.run_id} ended while the daemon was down")
            act(action="remove_entry", task=entry.task_id, run=entry.run_id, run_status=run_status)
    for run in store.list_runs(statuses=tuple(ACTIVE_RUN_STATUSES), limit=1_000_000):
        current = store.queue_entry(run.task_id)
        if current is None or current.status != "dispatched" or current.run_id != run.id:
            store.add_dispatched(run.task_id, run.id, store.get_task(run.task_id).priority.rank)
            act(action="adopt_run", task=run.task_id, run=run.id, status=run.status.value)
    if prune_worktrees:
        for pruned in _prune_worktrees(store, ctx):
            act(action="prune_worktree", task=pruned)
    act(action="done", killed=len(killed))
    return actions


def _prune_worktrees(store: Store, ctx: EngineContext) -> list[str]:
    from animus import git

    pruned: list[str] = []
    if not ctx.worktrees_dir.is_dir():
        return pruned
    for path in sorted(ctx.worktrees_dir.iterdir()):
        try:
            task = store.get_task(path.name)
        except (NotFound, AnimusError):
            continue
        if task.status not in (TaskStatus.DONE, TaskStatus.CANCELLED) or store.active_run_for_task(task.id):
            continue
        try:
            # The branch stays: a cancelled task's work may still be wanted.
            if git.remove_worktree(ctx.project_root, path):
                pruned.append(task.id)
        except AnimusError as err:
            _log.warning(_kv(event="prune_failed", task=task.id, reason=err.message))
    return pruned

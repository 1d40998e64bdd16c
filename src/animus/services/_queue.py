"""The daemon's queue as every front end sees it: enqueue (one run per task), hold, release, drop.

A task that already has an active run is not queued again (the CLI, the HTTP API and MCP refuse it
alike); dropping an entry the daemon already dispatched cancels its run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from animus.domain.errors import Conflict

if TYPE_CHECKING:
    from pathlib import Path

    from animus.config import WorkflowConfig
    from animus.store import QueueEntry, Store

DROPPED_REASON = "dropped by user"


@dataclass(frozen=True)
class Enqueued:
    """The task's queue entry and whether this call created it (``False``: it was queued already)."""

    entry: QueueEntry
    created: bool


@dataclass(frozen=True)
class Dropped:
    """The entry as it was before it went, and the run cancelled with it (``None`` if none was active)."""

    entry: QueueEntry
    cancelled_run: str | None


def list_queue(store: Store, *, statuses: tuple[str, ...] = ()) -> list[QueueEntry]:
    """Entries in dispatch order: priority (critical first), then first come first served."""
    return store.queue_entries(statuses=statuses)


def enqueue(
    store: Store,
    task_id: str,
    *,
    workflow: str | None = None,
    variables: dict[str, str] | None = None,
    source: str = "cli",
    config: WorkflowConfig | None = None,
) -> Enqueued:
    """Queue ``task_id`` for the daemon (idempotent per task).

    Refused (Conflict) when the task has an active run that the queue does not hold: the daemon
    would only find that run again. ``config``, when given, checks that the workflow exists (NotFound)
    and that it declares ``variables`` and accepts their values (InvalidInput), as a run's plan will.
    """
    if config is not None:
        workflow_id = workflow or store.get_task(task_id).workflow or config.default_workflow
        config.workflow(workflow_id).check_variables(variables or {})
    active = store.active_run_for_task(task_id)
    if active is not None and store.queue_entry(task_id) is None:
        raise Conflict(f"{task_id} already has an active run {active.id}", hint="`animus status` shows it")
    entry, created = store.enqueue(task_id, workflow=workflow, variables=variables, source=source)
    return Enqueued(entry, created)


def hold(store: Store, task_id: str) -> QueueEntry:
    """Keep a waiting entry from being dispatched (a dispatched one already has its run)."""
    return store.set_held(task_id, True)


def release(store: Store, task_id: str) -> QueueEntry:
    """Let a held entry be dispatched again; it keeps its place."""
    return store.set_held(task_id, False)


def drop_queued(store: Store, runs_dir: Path, task_id: str) -> Dropped:
    """Remove the task's entry; if the daemon dispatched it and its run is active, cancel that run."""
    entry = store.require_queue_entry(task_id)
    cancelled = None
    if entry.status == "dispatched" and entry.run_id:
        run = store.get_run(entry.run_id)
        if run.status.is_active:
            from animus.engine import cancel_run

            cancelled = cancel_run(store, store.url, runs_dir, run.id).id
    store.remove_queue_entry(task_id, DROPPED_REASON)
    return Dropped(entry, cancelled)


def queue_run(store: Store, task_id: str, *, workflow: str, variables: dict[str, str], source: str = "cli") -> QueueEntry:
    """Queue a run the caller just prepared or reopened (it is the task's active run, so no conflict check)."""
    entry, _created = store.enqueue(task_id, workflow=workflow, variables=variables, source=source)
    return entry


def clear_ended_entry(store: Store, task_id: str) -> None:
    """A finished run's dispatched entry must not block the next enqueue of its task."""
    entry = store.queue_entry(task_id)
    if entry is not None and entry.status == "dispatched":
        store.remove_queue_entry(task_id, "run ended")

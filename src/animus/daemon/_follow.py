"""`animus run TASK` while a daemon runs: enqueue the task (unless queued or active) and follow its run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animus.daemon._info import read_info
from animus.domain.errors import Conflict, Unavailable

if TYPE_CHECKING:
    from animus.domain.runs import WorkflowRun
    from animus.store import Store

_DAEMON_GONE_GRACE_SECS = 5.0


def enqueue_and_follow(
    store: Store,
    root: Path,
    state_dir: Path,
    task_id: str,
    emit: Callable[[dict[str, Any]], None],
    *,
    workflow: str | None = None,
    variables: dict[str, str] | None = None,
    poll_secs: float = 0.1,
) -> WorkflowRun:
    """Hand the task to the daemon and report its run's progress until the run ends."""
    from animus.engine import EngineContext, RunFollower

    run_id: str | None = None
    active = store.active_run_for_task(task_id)
    since = ""
    if active is not None:
        run_id = active.id
    else:
        entry, created = store.enqueue(task_id, workflow=workflow, variables=variables, source="cli")
        if entry.status == "held":
            raise Conflict(f"{task_id} is held in the queue", hint=f"release it: `animus queue release {task_id}`")
        since = entry.enqueued_at
        run_id = entry.run_id
        ahead = sum(1 for e in store.queue_entries(statuses=("queued",))
                    if (e.priority_rank, e.enqueued_at) < (entry.priority_rank, entry.enqueued_at))
        emit({"event": "queued", "task_id": task_id, "new": created, "ahead": ahead})
    gone_since: float | None = None
    while run_id is None:
        waiting = store.queue_entry(task_id)
        if waiting is not None and waiting.run_id:
            run_id = waiting.run_id
            break
        if waiting is None:
            latest = store.list_runs(task_id=task_id, limit=1)
            if latest and latest[0].created_at >= since:
                run_id = latest[0].id
                break
            raise Conflict(f"the daemon did not start {task_id}; see `animus daemon logs`")
        gone_since = _check_daemon(state_dir, gone_since, f"{task_id} stays queued")
        time.sleep(poll_secs)
    run = store.get_run(run_id)
    emit({"event": "run.started", "run_id": run.id, "task_id": run.task_id, "workflow": run.workflow,
          "dbos_workflow_id": run.dbos_workflow_id})
    follower = RunFollower(store, EngineContext(root, state_dir, store.url), run.id, emit)
    if active is not None:  # a run already under way: what it recorded so far is history, not news
        follower.replay_history()
    while True:
        current = follower.poll()
        if current.status.is_terminal:
            return current
        gone_since = _check_daemon(state_dir, gone_since, f"run {run.id} continues when it starts again")
        time.sleep(poll_secs)


def _check_daemon(state_dir: Path, gone_since: float | None, what: str) -> float | None:
    if read_info(state_dir) is not None:
        return None
    now = time.monotonic()
    if gone_since is None:
        return now
    if now - gone_since > _DAEMON_GONE_GRACE_SECS:
        raise Unavailable(f"the daemon stopped; {what}", hint="start it with `animus daemon start`, or run in the foreground then")
    return gone_since

"""The run queue the daemon dispatches to: DBOS's queue ``animus-runs``, bounded by the pool.

The daemon decides *when* a run starts; the engine owns *how* (DBOS): it registers the queue,
submits a run's workflow under the run's deterministic workflow id (so a repeated submit is a
no-op), and reconciles a dispatched run with what DBOS says of its workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from animus.engine._executor import fail_run_on_error, workflow_error
from animus.engine._runtime import _DBOS_FAILED
from animus.engine._types import _RunResult

if TYPE_CHECKING:
    from animus.domain.runs import WorkflowRun
    from animus.store import Store

QUEUE_NAME = "animus-runs"


@dataclass(frozen=True)
class WorkflowCheck:
    """What reconciling one run found: nothing to do, a workflow DBOS never had (submitted now), or a failure."""

    action: Literal["none", "submitted", "failed"]
    dbos_status: str | None = None
    error: str | None = None


class RunQueue:
    """Workflows of dispatched runs, run by this executor at most ``pool_size`` at a time."""

    def __init__(
        self, workflow: Callable[[str], _RunResult], *, pool_size: int, poll_secs: float, global_concurrency: int | None = None
    ) -> None:
        from dbos import DBOS

        self.workflow = workflow
        # worker_concurrency holds per process; global_concurrency across every daemon (on PostgreSQL only: research §3)
        # (DBOS refuses a global limit below the per-process one: a pool above it could never fill anyway)
        local = min(pool_size, global_concurrency) if global_concurrency else pool_size
        DBOS.register_queue(QUEUE_NAME, worker_concurrency=local, global_concurrency=global_concurrency,
                            polling_interval_sec=poll_secs)

    def submit(self, run: WorkflowRun, priority_rank: int) -> bool:
        """Put the run's workflow on the queue unless a workflow with its id exists already."""
        from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

        if DBOS.get_workflow_status(run.dbos_workflow_id) is not None:
            return False
        # DBOS runs lower numbers first and 0 would jump ahead of every explicit priority.
        with SetWorkflowID(run.dbos_workflow_id), SetEnqueueOptions(priority=priority_rank + 1):
            DBOS.enqueue_workflow(QUEUE_NAME, self.workflow, run.id)
        return True

    def reconcile(self, store: Store, run: WorkflowRun, priority_rank: int) -> WorkflowCheck:
        """A run whose workflow DBOS never got is submitted; one whose workflow failed is marked failed."""
        from dbos import DBOS

        status = DBOS.get_workflow_status(run.dbos_workflow_id)
        if status is None:
            self.submit(run, priority_rank)
            return WorkflowCheck("submitted")
        if status.status in _DBOS_FAILED:
            error = workflow_error(DBOS.retrieve_workflow(run.dbos_workflow_id)) if status.status == "ERROR" else status.status
            fail_run_on_error(store, run, error)
            return WorkflowCheck("failed", dbos_status=status.status, error=error)
        return WorkflowCheck("none", dbos_status=status.status)

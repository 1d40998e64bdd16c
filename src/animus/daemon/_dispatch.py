"""The dispatcher: queue entries → runs submitted to the engine's run queue, within the pool.

Crash-safe by order of effects: (1) ``prepare_run`` creates the run or finds the task's active one,
(2) the entry is marked ``dispatched`` with that run id, (3) the engine submits the run's workflow
under the run's deterministic workflow id. A crash after (1) finds the same run again; after (2) the
reconcile of dispatched entries finds no workflow and submits it (same id, so at most once).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from animus.domain.errors import AnimusError, Conflict, NotFound
from animus.domain.runs import RunStatus

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.domain.runs import WorkflowRun
    from animus.engine import EngineContext, RunQueue
    from animus.store import QueueEntry, Store

_log = logging.getLogger("animus.daemon")
#: how many queued entries past the free slots the dispatcher reads while a provider is paused
_LOOK_PAST_PAUSED = 100


def _kv(**fields: Any) -> str:
    """``key=value`` pairs for one log line (values with spaces quoted)."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={text!r}" if (" " in text or not text) else f"{key}={text}")
    return " ".join(parts)


class Dispatcher:
    """Moves entries into runs (at most ``pool_size`` active), removes entries of ended runs."""

    def __init__(
        self,
        store: Store,
        ctx: EngineContext,
        config: Callable[[], WorkflowConfig],
        runs: RunQueue,
        pool_size: int,
        *,
        capacity: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.config = config
        self.runs = runs
        self.pool_size = pool_size
        #: runs the whole fleet may have dispatched at once (one daemon: its pool)
        self.capacity = capacity or (lambda: pool_size)

    # -- the fast pass ------------------------------------------------------------------------------
    def dispatch(self, *, take_work: bool = True) -> int:
        """Remove entries whose run ended; start entries while the pool has room. Returns runs started."""
        active = 0
        for entry, run_status in self.store.dispatched_with_runs():
            if run_status is None or not RunStatus(run_status).is_active:
                self.store.remove_queue_entry(entry.task_id, f"run {entry.run_id} ended {run_status}")
                _log.info(_kv(event="run_ended", task=entry.task_id, run=entry.run_id, status=run_status))
            else:
                active += 1
        free = self.capacity() - active
        if not take_work or free <= 0:
            return 0
        started: list[tuple[WorkflowRun, QueueEntry]] = []
        # One transaction: the entries claimed (locked on PostgreSQL, skipped by every other daemon),
        # their runs created and the entries marked dispatched commit together; the workflows are
        # submitted after it (a crash in between: ``check_workflows`` submits them, same ids).
        # (On SQLite there is one daemon: no transaction, so DBOS's writes never wait on a plan being built.)
        paused = self._paused_providers()
        with self.store.transaction() if self.store.dialect == "postgresql" else contextlib.nullcontext():
            # with a provider paused, look further down the queue: what needs it waits, the rest goes
            for entry in self.store.claim_dispatchable(free + (_LOOK_PAST_PAUSED if paused else 0)):
                if len(started) >= free:
                    break
                if paused and not self._runnable_now(entry, paused):
                    continue
                run = self._start(entry)
                if run is not None:
                    started.append((run, entry))
        for run, entry in started:
            self.runs.submit(run, entry.priority_rank)
        return len(started)

    def _paused_providers(self) -> set[str]:
        from animus.engine import clock_now

        return {limit.provider for limit in self.store.provider_limits(clock_now())}

    def _runnable_now(self, entry: QueueEntry, paused: set[str]) -> bool:
        """False while every agent that could run the entry's first agent phase has its provider paused."""
        from animus.engine import dispatchable

        try:
            config = self.config()
            return dispatchable(config, entry.workflow or config.default_workflow, paused)
        except AnimusError:
            return True  # an unknown workflow: ``_start`` refuses it with the reason

    def _start(self, entry: QueueEntry) -> WorkflowRun | None:
        from animus.engine import prepare_run

        try:
            run, created = prepare_run(
                self.store, self.config(), entry.task_id, workflow=entry.workflow, variables=entry.vars or None,
                root=self.ctx.project_root,
            )
        except (Conflict, NotFound) as err:
            self.store.remove_queue_entry(entry.task_id, f"not dispatchable: {err.message}")
            _log.warning(_kv(event="dispatch_refused", task=entry.task_id, reason=err.message))
            return None
        except AnimusError as err:
            self.store.remove_queue_entry(entry.task_id, f"not dispatchable: {err.message}")
            _log.error(_kv(event="dispatch_failed", task=entry.task_id, reason=err.message))
            return None
        self.store.mark_dispatched(entry.task_id, run.id)
        _log.info(_kv(event="dispatched", task=entry.task_id, run=run.id, new=created, priority=entry.priority_rank))
        return run

    # -- the slow pass ------------------------------------------------------------------------------
    def check_workflows(self) -> None:
        """Dispatched runs whose workflow failed are marked failed; a workflow the engine never got is submitted."""
        for entry, run_status in self.store.dispatched_with_runs():
            if entry.run_id is None or run_status is None or not RunStatus(run_status).is_active:
                continue
            run = self.store.get_run(entry.run_id)
            check = self.runs.reconcile(self.store, run, entry.priority_rank)
            if check.action == "submitted":
                _log.warning(_kv(event="reenqueued", task=entry.task_id, run=run.id, reason="no DBOS workflow"))
            elif check.action == "failed":
                _log.error(_kv(event="run_failed", task=entry.task_id, run=run.id, dbos_status=check.dbos_status,
                             error=(check.error or "")[:300]))

    def enqueue_ready(self) -> int:
        """``daemon.auto_run_ready``: queue every ready task that has no entry and no active or completed run."""
        added = 0
        for task_id in self.store.ready_without_runs():
            try:
                _entry, created = self.store.enqueue(task_id, source="auto_ready")
            except AnimusError as err:
                _log.warning(_kv(event="auto_enqueue_failed", task=task_id, reason=err.message))
                continue
            if created:
                added += 1
                _log.info(_kv(event="enqueued", task=task_id, source="auto_ready"))
        return added

    def active_count(self) -> int:
        return sum(1 for _e, s in self.store.dispatched_with_runs() if s is not None and RunStatus(s).is_active)

"""Budgets: before an agent phase starts, the spend so far is checked against the live limits; a run
over a limit parks (``waiting_budget``) in a durable wait, or fails, by ``on_exceeded``.

A parked run looks again when the UTC day rolls over (per-day limits), every ``_RECHECK_SECS`` (a
person may have raised the budget in the config), and at once when ``animus workflow resume`` wakes it.
The spend counted is what ended phases recorded (successful and failed alike), so a kill -9 while
parked loses nothing and counts nothing twice: the phase rows are the one record.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from animus.domain.runs import RunStatus

if TYPE_CHECKING:
    from animus.engine._durable import _Steps
    from animus.engine._steps import EngineContext

#: test hook: seconds added to the engine's clock (a simulated day change without waiting a day)
_ENV_CLOCK_OFFSET = "ANIMUS_CLOCK_OFFSET_SECS"
_RECHECK_SECS = 30.0


class _BudgetCheck(TypedDict):
    """What step ``animus.budget.check`` found: the limit crossed (None: none), and when a per-day one resets."""

    exceeded: str | None
    on_exceeded: str  # park | fail
    day_resets_in: float | None  # seconds to the next UTC midnight, for a per-day limit


def _clock_now() -> float:
    """The engine's wall clock: ``time.time()`` plus the ``ANIMUS_CLOCK_OFFSET_SECS`` test hook."""
    try:
        offset = float(os.environ.get(_ENV_CLOCK_OFFSET) or 0)
    except ValueError:
        offset = 0.0
    return time.time() + offset


def _budget_topic(run_id: str) -> str:
    return f"budget:{run_id}"


def _check_budget(ctx: EngineContext, run_id: str, task_id: str, workflow: str) -> _BudgetCheck:
    """Spend so far against the live config's limits (a raised budget counts at the next check)."""
    from animus.engine._steps import _live_config
    from animus.engine._txns import _engine_store

    config = _live_config(ctx)
    if config is None:
        return {"exceeded": None, "on_exceeded": "park", "day_resets_in": None}
    limits = config.budgets_for(workflow)
    store = _engine_store(ctx)
    now = datetime.fromtimestamp(_clock_now(), UTC)
    day = now.strftime("%Y-%m-%d")
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    found: str | None = None
    per_day = False
    if limits.per_task_usd is not None:
        spent = sum(r.cost_usd for r in store.spend(task_id=task_id))
        if spent >= limits.per_task_usd:
            found = f"task {task_id} spent ${spent:.4f} of its per_task_usd ${limits.per_task_usd:.4f}"
    if found is None and limits.per_run_usd is not None:
        spent = sum(r.cost_usd for r in store.spend(run_id=run_id))
        if spent >= limits.per_run_usd:
            found = f"run {run_id} spent ${spent:.4f} of its per_run_usd ${limits.per_run_usd:.4f}"
    if found is None and (limits.per_day_usd is not None or limits.per_day_tokens is not None):
        today = [r for r in store.spend(since=day) if r.started_at[:10] == day]
        spent = sum(r.cost_usd for r in today)
        tokens = sum(r.input_tokens + r.output_tokens for r in today)
        if limits.per_day_usd is not None and spent >= limits.per_day_usd:
            found, per_day = f"{day} spent ${spent:.4f} of per_day_usd ${limits.per_day_usd:.4f}", True
        elif limits.per_day_tokens is not None and tokens >= limits.per_day_tokens:
            found, per_day = f"{day} used {tokens} tokens of per_day_tokens {limits.per_day_tokens}", True
    return {"exceeded": found, "on_exceeded": limits.on_exceeded,
            "day_resets_in": (midnight - now).total_seconds() if per_day else None}


def _await_budget(steps: _Steps, run_id: str, *, task_id: str, workflow: str) -> str | None:
    """Hold the run while a budget is spent; None to go on, else the status it stopped with."""
    from dbos import DBOS

    checked = steps.budget_check(run_id, task_id=task_id, workflow=workflow)
    if checked["exceeded"] is None:
        return None
    if checked["on_exceeded"] == "fail":
        return steps.stop(run_id, status=RunStatus.FAILED, reason=f"budget_exceeded: {checked['exceeded']}")["status"]
    moved = steps.budget_wait(run_id, reason=checked["exceeded"])
    if moved["status"] != RunStatus.WAITING_BUDGET:
        return moved["status"]
    while checked["exceeded"] is not None:
        wait = _RECHECK_SECS if checked["day_resets_in"] is None else min(_RECHECK_SECS, checked["day_resets_in"] + 1)
        DBOS.recv(topic=_budget_topic(run_id), timeout_seconds=max(1.0, wait))  # a wake, or the time: look again
        checked = steps.budget_check(run_id, task_id=task_id, workflow=workflow)
        if checked["exceeded"] is not None and checked["on_exceeded"] == "fail":
            return steps.stop(run_id, status=RunStatus.FAILED, reason=f"budget_exceeded: {checked['exceeded']}")["status"]
    moved = steps.budget_go(run_id)
    return None if moved["status"] == RunStatus.RUNNING else moved["status"]


def _budget_wait(store: Any, run_id: str, reason: str) -> dict[str, Any]:
    """Park the run: ``waiting_budget``, with the limit it crossed as its reason (transaction body)."""
    from animus.engine._fleet import _fence
    from animus.engine._txns import _move_run

    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value}
    _move_run(store, run, RunStatus.WAITING_BUDGET, failure_reason=f"budget_exceeded: {reason}"[:2000])
    return {"status": RunStatus.WAITING_BUDGET.value}


def _budget_go(store: Any, run_id: str) -> dict[str, Any]:
    """Unpark the run: the limit no longer holds (transaction body)."""
    from animus.engine._fleet import _fence
    from animus.engine._txns import _move_run

    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status != RunStatus.WAITING_BUDGET:
        return {"status": run.status.value}
    _move_run(store, run, RunStatus.RUNNING, failure_reason=None)
    return {"status": RunStatus.RUNNING.value}

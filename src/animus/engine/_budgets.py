"""Budgets: before an agent phase starts, the spend so far is checked against the live limits; a run
over a limit parks (``waiting_budget``) in a durable wait, or fails, by ``on_exceeded``. While an
agent runs, its await step watches the usage events in its stream and stops it once a limit is
crossed; its phase ends ``budget_exceeded`` and the check before the phase's next attempt parks the
run (or fails it).

A parked run looks again when the UTC day rolls over (per-day limits), every ``_RECHECK_SECS`` (a
person may have raised the budget in the config), and at once when ``animus workflow resume`` wakes it.
The spend counted is what ended phases recorded (successful and failed alike), so a kill -9 while
parked loses nothing and counts nothing twice: the phase rows are the one record.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from animus import agents, procs
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


@dataclass(frozen=True)
class _Spent:
    """What the runs spent so far, per limit: the task's runs, this run, and today's runs (UTC)."""

    task_usd: float
    run_usd: float
    day_usd: float
    day_tokens: int
    day: str

    def plus(self, usd: float, tokens: int) -> _Spent:
        """With the spend of a phase that has not ended yet (it counts to every limit)."""
        return _Spent(self.task_usd + usd, self.run_usd + usd, self.day_usd + usd, self.day_tokens + tokens, self.day)


def _spent(store: Any, run_id: str, task_id: str, now: datetime) -> _Spent:
    """What the ended phases recorded, successful and failed alike: the one record of spend."""
    day = now.strftime("%Y-%m-%d")
    today = [r for r in store.spend(since=day) if r.started_at[:10] == day]
    return _Spent(
        task_usd=sum(r.cost_usd for r in store.spend(task_id=task_id)),
        run_usd=sum(r.cost_usd for r in store.spend(run_id=run_id)),
        day_usd=sum(r.cost_usd for r in today),
        day_tokens=sum(r.input_tokens + r.output_tokens for r in today),
        day=day,
    )


def _crossed(limits: Any, spent: _Spent, task_id: str, run_id: str, *, strict: bool) -> tuple[str | None, bool]:
    """The first limit ``spent`` has used up (``strict``: gone beyond), and whether it is a per-day one."""

    def over(amount: float, limit: float) -> bool:
        return amount > limit if strict else amount >= limit

    if limits.per_task_usd is not None and over(spent.task_usd, limits.per_task_usd):
        return f"task {task_id} spent ${spent.task_usd:.4f} of its per_task_usd ${limits.per_task_usd:.4f}", False
    if limits.per_run_usd is not None and over(spent.run_usd, limits.per_run_usd):
        return f"run {run_id} spent ${spent.run_usd:.4f} of its per_run_usd ${limits.per_run_usd:.4f}", False
    if limits.per_day_usd is not None and over(spent.day_usd, limits.per_day_usd):
        return f"{spent.day} spent ${spent.day_usd:.4f} of per_day_usd ${limits.per_day_usd:.4f}", True
    if limits.per_day_tokens is not None and over(spent.day_tokens, limits.per_day_tokens):
        return f"{spent.day} used {spent.day_tokens} tokens of per_day_tokens {limits.per_day_tokens}", True
    return None, False


def _check_budget(ctx: EngineContext, run_id: str, task_id: str, workflow: str) -> _BudgetCheck:
    """Spend so far against the live config's limits (a raised budget counts at the next check)."""
    from animus.engine._steps import _live_config
    from animus.engine._txns import _engine_store

    config = _live_config(ctx)
    if config is None:
        return {"exceeded": None, "on_exceeded": "park", "day_resets_in": None}
    limits = config.budgets_for(workflow)
    now = datetime.fromtimestamp(_clock_now(), UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    found, per_day = _crossed(limits, _spent(_engine_store(ctx), run_id, task_id, now), task_id, run_id, strict=False)
    return {"exceeded": found, "on_exceeded": limits.on_exceeded,
            "day_resets_in": (midnight - now).total_seconds() if per_day else None}


class _BudgetWatch(TypedDict):
    """What the await step of a budgeted run watches its agent's stream for (a step input: never journaled)."""

    run_id: str
    task_id: str
    workflow: str
    #: the phase attempt's earlier agent runs (retries): not in the phase rows until the phase ends
    phase_usd: float
    phase_tokens: int


def _watch_spend(ctx: EngineContext, reader: agents.RunReader, watch: _BudgetWatch, model: str | None) -> str | None:
    """Follow the agent's stream to its end; stop its tree once its spend goes beyond a limit; that limit.

    Read from the first byte at every execution of the await step, so a daemon that restarts (or a
    peer that takes the run over) re-attaches and watches the same stream again: a limit crossed
    before the crash is found again, and a run stopped before it is stopped (a no-op) once more.
    A CLI's own end-of-run totals (``scope: total``) never stop it: the run is ending by itself,
    and whether its work is kept is the next phase's budget check's to say.
    """
    from animus.engine._steps import _live_config, _prices
    from animus.engine._txns import _engine_store

    before = _spent(_engine_store(ctx), watch["run_id"], watch["task_id"], datetime.fromtimestamp(_clock_now(), UTC))
    before = before.plus(float(watch["phase_usd"]), int(watch["phase_tokens"]))
    table = _prices(ctx)
    crossed: str | None = None
    for kind, data in reader.follow(poll=0.1):
        if kind != "usage" or crossed is not None:
            continue
        config = _live_config(ctx)  # a budget raised while the phase runs counts at its next usage event
        if config is None:
            continue
        tally = reader.cursor.tally
        tokens_in, tokens_out, reported = tally.tokens()
        cost = agents.run_cost(reported_usd=reported, model=tally.model or model, input_tokens=tokens_in,
                               output_tokens=tokens_out, cached_input_tokens=tally.cached_input_tokens(), table=table)
        found, _per_day = _crossed(config.budgets_for(watch["workflow"]), before.plus(cost or 0.0, tokens_in + tokens_out),
                                   watch["task_id"], watch["run_id"], strict=True)
        if found is not None:
            crossed = found
            if data.get("scope") != "total":
                procs.stop(reader.handle.run_id, ctx.runs_dir)  # the agent's whole tree, as a cancel stops it
    return crossed


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

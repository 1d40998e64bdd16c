"""The run's durable steps as one typed object: a method per DBOS step or datasource transaction.

Each call is one journal entry under the name it was first recorded with (``animus.load``,
``animus.tx.phase_end``, …); those names and the order of calls in ``_workflow._run`` are what a
replay matches, so they never change within one ``ENGINE_VERSION``. Arguments are keywords after
the run id, so a reader sees what each step gets; DBOS records only the return values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from animus.domain.runs import PhaseStatus, RunStatus
from animus.engine import _budgets, _fleet, _pr, _steps, _txns
from animus.engine._types import (
    Judgement,
    PhaseSpec,
    Plan,
    Route,
    TaskSnapshot,
    _AgentLaunch,
    _AgentOutcome,
    _Cleaned,
    _CommandResult,
    _Committed,
    _Landing,
    _Launched,
    _LoadedRun,
    _Moved,
    _PhaseStarted,
    _PhaseSummary,
    _PrCommented,
    _PrDecision,
    _PrMerged,
    _PrObservation,
    _Worktree,
)
from animus.procs import fault_point as _fault_point


def _with_faults(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the crash-matrix fault points on both sides of the recorded step."""

    def call(*args: Any, **kwargs: Any) -> Any:
        _fault_point(name, "before")
        result = fn(*args, **kwargs)
        _fault_point(name, "after")
        return result

    return call


class _Steps:
    """The steps of ``animus.run.v1``, declared with DBOS once per process (``_workflow.register``)."""

    def __init__(self, ds: Any, context: Callable[[], _steps.EngineContext]) -> None:
        from dbos import DBOS

        def step(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            return _with_faults(name, DBOS.step(name=name)(fn))

        def tx(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def body(*args: Any, **kwargs: Any) -> Any:
                return fn(_txns._session_store(ds), *args, **kwargs)

            body.__name__ = body.__qualname__ = name
            return _with_faults(name, ds.transaction(name=name)(body))

        def bound(fn: Callable[..., Any]) -> Callable[..., Any]:
            return lambda *args, **kwargs: fn(context(), *args, **kwargs)

        self._context = context
        self._load = step("animus.load", bound(_txns._load_run))
        self._now = step("animus.now", lambda: _budgets._clock_now())
        self._worktree = step("animus.worktree", bound(_steps._prepare_worktree))
        self._launch = step("animus.agent.launch", bound(_steps._launch_agent))
        self._await = step("animus.agent.await", bound(_steps._await_agent))
        self._commit = step("animus.git.commit", bound(_steps._commit_changes))
        self._command = step("animus.command", bound(_steps._run_command))
        self._land = step("animus.land", bound(_steps._land))
        self._cleanup = step("animus.cleanup", bound(_steps._cleanup))
        self._pr_observe = step("animus.pr.observe", bound(_pr._observe_pr))
        self._pr_merge = step("animus.pr.merge", bound(_pr._merge_pr))
        self._pr_comment = step("animus.pr.comment", bound(_pr._comment_pr))
        self._begin = tx("animus.tx.begin", _txns._begin)
        self._phase_start = tx("animus.tx.phase_start", _txns._phase_start)
        self._phase_agent = tx("animus.tx.phase_agent", _txns._phase_agent)
        self._waiting = tx("animus.tx.waiting", _txns._waiting)
        self._phase_end = tx("animus.tx.phase_end", _txns._phase_end)
        self._complete = tx("animus.tx.complete", _txns._complete)
        self._stop = tx("animus.tx.stop", _txns._stop)
        self._pr_wait = tx("animus.tx.pr_wait", _txns._pr_wait)
        self._pr_decision = tx("animus.tx.pr_decision", _txns._pr_decision)
        self._budget_check = step("animus.budget.check", bound(_budgets._check_budget))
        self._budget_wait = tx("animus.tx.budget_wait", _budgets._budget_wait)
        self._budget_go = tx("animus.tx.budget_go", _budgets._budget_go)

    # -- not steps: they run at every execution of the workflow, on the daemon executing it now ---------
    def claim(self, run_id: str) -> int:
        """Make this executor the run's owner (``_fleet``); the owner epoch."""
        return _fleet._claim(_txns._engine_store(self._context()), run_id)

    def localize(self, worktree: _Worktree, *, task_id: str) -> _Worktree:
        """The recorded worktree as this host has it: a run taken over from another host gets its own,
        re-made from the task branch that host pushed (``_steps._local_worktree``)."""
        return _steps._local_worktree(self._context(), worktree, task_id)

    # -- steps: each checks the world before acting (``_steps.py``) -----------------------------------
    def load(self, run_id: str) -> _LoadedRun:
        return cast(_LoadedRun, self._load(run_id))

    def now(self) -> float:
        return cast(float, self._now())

    def prepare_worktree(self, *, task_id: str, target_branch: str | None) -> _Worktree:
        return cast(_Worktree, self._worktree(task_id, target_branch))

    def launch_agent(self, launch: _AgentLaunch) -> _Launched:
        return cast(_Launched, self._launch(launch))

    def await_agent(
        self, agent_run_id: str, *, model: str | None = None, provider: str | None = None,
        budget: _budgets._BudgetWatch | None = None,
    ) -> _AgentOutcome:
        return cast(_AgentOutcome, self._await(agent_run_id, model, provider, budget))

    def commit(
        self, *, worktree: str, message: str, agent_run_id: str, base_sha: str | None,
        baseline_tree: str | None = None, read_only: bool = False,
    ) -> _Committed:
        return cast(_Committed, self._commit(worktree, message, agent_run_id, base_sha, baseline_tree, read_only))

    def run_command(self, *, phase: PhaseSpec, worktree: str, variables: dict[str, str], attempt_id: str) -> _CommandResult:
        return cast(_CommandResult, self._command(phase, worktree, variables, attempt_id))

    def land(self, *, plan: Plan, task: TaskSnapshot, worktree: _Worktree, run_id: str) -> _Landing:
        return cast(_Landing, self._land(plan, task, worktree, run_id))

    def cleanup(self, *, plan: Plan, worktree: _Worktree, merged: bool = False) -> _Cleaned:
        return cast(_Cleaned, self._cleanup(plan, worktree, merged))

    def pr_observe(self, *, plan: Plan, number: int) -> _PrObservation:
        return cast(_PrObservation, self._pr_observe(plan, number))

    def pr_merge(self, *, plan: Plan, number: int, sha: str, method: str) -> _PrMerged:
        return cast(_PrMerged, self._pr_merge(plan, number, sha, method))

    def pr_comment(self, *, plan: Plan, number: int, marker: str, body: str) -> _PrCommented:
        return cast(_PrCommented, self._pr_comment(plan, number, marker, body))

    # -- transactions: a state change committed with its journal record (``_txns.py``) ---------------
    def begin(self, run_id: str, *, worktree: _Worktree) -> _Moved:
        return cast(_Moved, self._begin(run_id, worktree))

    def phase_start(
        self, run_id: str, *, index: int, phase_id: str, attempt: int, mode: str, status: PhaseStatus,
        agent_run_id: str | None = None,
    ) -> _PhaseStarted:
        return cast(_PhaseStarted, self._phase_start(run_id, index, phase_id, attempt, mode, status.value, agent_run_id))

    def phase_agent(self, run_id: str, *, seq: int, agent_run_id: str) -> None:
        self._phase_agent(run_id, seq, agent_run_id)

    def waiting(self, run_id: str, *, seq: int) -> _Moved:
        return cast(_Moved, self._waiting(run_id, seq))

    def phase_end(
        self, run_id: str, *, seq: int, index: int, attempt: int, judged: Judgement, routed: Route, summary: _PhaseSummary
    ) -> _Moved:
        return cast(_Moved, self._phase_end(run_id, seq, index, attempt, judged, routed, summary))

    def complete(self, run_id: str, *, landed: _Landing) -> _Moved:
        return cast(_Moved, self._complete(run_id, landed))

    def stop(
        self, run_id: str, *, status: RunStatus, reason: str, landed: _Landing | None = None, routed: Route | None = None
    ) -> _Moved:
        return cast(_Moved, self._stop(run_id, status.value, reason, landed, routed))

    def pr_wait(self, run_id: str, *, landed: _Landing) -> _Moved:
        return cast(_Moved, self._pr_wait(run_id, landed))

    def pr_decision(self, run_id: str, *, decided: _PrDecision) -> _Moved:
        return cast(_Moved, self._pr_decision(run_id, decided))

    def budget_check(self, run_id: str, *, task_id: str, workflow: str) -> _budgets._BudgetCheck:
        return cast(_budgets._BudgetCheck, self._budget_check(run_id, task_id, workflow))

    def budget_wait(self, run_id: str, *, reason: str) -> _Moved:
        return cast(_Moved, self._budget_wait(run_id, reason))

    def budget_go(self, run_id: str) -> _Moved:
        return cast(_Moved, self._budget_go(run_id))

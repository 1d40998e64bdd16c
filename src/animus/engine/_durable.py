"""The run's durable steps as one typed object: a method per DBOS step or datasource transaction.

Each call is one journal entry under the name it was first recorded with (``animus.load``,
``animus.tx.phase_end``, …); those names and the order of calls in ``_workflow._run`` are what a
replay matches, so they never change within one ``ENGINE_VERSION``. Arguments are keywords after
the run id, so a reader sees what each step gets; DBOS records only the return values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from animus.domain.runs import PhaseStatus, RunStatus
from animus.engine import _steps, _txns
from animus.engine._faults import fault_point
from animus.engine._types import (
    AgentLaunch,
    AgentOutcome,
    Cleaned,
    CommandResult,
    Committed,
    Judgement,
    Landing,
    Launched,
    LoadedRun,
    Moved,
    PhaseSpec,
    PhaseStarted,
    PhaseSummary,
    Plan,
    Route,
    TaskSnapshot,
    Worktree,
)


def _with_faults(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the crash-matrix fault points on both sides of the recorded step."""

    def call(*args: Any, **kwargs: Any) -> Any:
        fault_point(name, "before")
        result = fn(*args, **kwargs)
        fault_point(name, "after")
        return result

    return call


class Steps:
    """The steps of ``animus.run.v1``, declared with DBOS once per process (``_workflow.register``)."""

    def __init__(self, ds: Any, context: Callable[[], _steps.EngineContext]) -> None:
        from dbos import DBOS

        def step(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            return _with_faults(name, DBOS.step(name=name)(fn))

        def tx(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def body(*args: Any, **kwargs: Any) -> Any:
                return fn(_txns.session_store(ds), *args, **kwargs)

            body.__name__ = body.__qualname__ = name
            return _with_faults(name, ds.transaction(name=name)(body))

        def bound(fn: Callable[..., Any]) -> Callable[..., Any]:
            return lambda *args, **kwargs: fn(context(), *args, **kwargs)

        self._load = step("animus.load", bound(_txns.load_run))
        self._now = step("animus.now", lambda: time.time())
        self._worktree = step("animus.worktree", bound(_steps.prepare_worktree))
        self._launch = step("animus.agent.launch", bound(_steps.launch_agent))
        self._await = step("animus.agent.await", bound(_steps.await_agent))
        self._commit = step("animus.git.commit", bound(_steps.commit_changes))
        self._command = step("animus.command", bound(_steps.run_command))
        self._land = step("animus.land", bound(_steps.land))
        self._cleanup = step("animus.cleanup", bound(_steps.cleanup))
        self._begin = tx("animus.tx.begin", _txns.begin)
        self._phase_start = tx("animus.tx.phase_start", _txns.phase_start)
        self._phase_agent = tx("animus.tx.phase_agent", _txns.phase_agent)
        self._waiting = tx("animus.tx.waiting", _txns.waiting)
        self._phase_end = tx("animus.tx.phase_end", _txns.phase_end)
        self._complete = tx("animus.tx.complete", _txns.complete)
        self._stop = tx("animus.tx.stop", _txns.stop)

    # -- steps: each checks the world before acting (``_steps.py``) -----------------------------------
    def load(self, run_id: str) -> LoadedRun:
        return cast(LoadedRun, self._load(run_id))

    def now(self) -> float:
        return cast(float, self._now())

    def prepare_worktree(self, *, task_id: str, target_branch: str | None) -> Worktree:
        return cast(Worktree, self._worktree(task_id, target_branch))

    def launch_agent(self, launch: AgentLaunch) -> Launched:
        return cast(Launched, self._launch(launch))

    def await_agent(self, agent_run_id: str) -> AgentOutcome:
        return cast(AgentOutcome, self._await(agent_run_id))

    def commit(
        self, *, worktree: str, message: str, agent_run_id: str, base_sha: str | None,
        baseline_tree: str | None = None, read_only: bool = False,
    ) -> Committed:
        return cast(Committed, self._commit(worktree, message, agent_run_id, base_sha, baseline_tree, read_only))

    def run_command(self, *, phase: PhaseSpec, worktree: str, variables: dict[str, str]) -> CommandResult:
        return cast(CommandResult, self._command(phase, worktree, variables))

    def land(self, *, plan: Plan, task: TaskSnapshot, worktree: Worktree, run_id: str) -> Landing:
        return cast(Landing, self._land(plan, task, worktree, run_id))

    def cleanup(self, *, plan: Plan, worktree: Worktree) -> Cleaned:
        return cast(Cleaned, self._cleanup(plan, worktree))

    # -- transactions: a state change committed with its journal record (``_txns.py``) ---------------
    def begin(self, run_id: str, *, worktree: Worktree) -> Moved:
        return cast(Moved, self._begin(run_id, worktree))

    def phase_start(
        self, run_id: str, *, index: int, phase_id: str, attempt: int, mode: str, status: PhaseStatus,
        agent_run_id: str | None = None,
    ) -> PhaseStarted:
        return cast(PhaseStarted, self._phase_start(run_id, index, phase_id, attempt, mode, status.value, agent_run_id))

    def phase_agent(self, run_id: str, *, seq: int, agent_run_id: str) -> None:
        self._phase_agent(run_id, seq, agent_run_id)

    def waiting(self, run_id: str, *, seq: int) -> Moved:
        return cast(Moved, self._waiting(run_id, seq))

    def phase_end(
        self, run_id: str, *, seq: int, index: int, attempt: int, judged: Judgement, routed: Route, summary: PhaseSummary
    ) -> Moved:
        return cast(Moved, self._phase_end(run_id, seq, index, attempt, judged, routed, summary))

    def complete(self, run_id: str, *, landed: Landing) -> Moved:
        return cast(Moved, self._complete(run_id, landed))

    def stop(
        self, run_id: str, *, status: RunStatus, reason: str, landed: Landing | None = None, routed: Route | None = None
    ) -> Moved:
        return cast(Moved, self._stop(run_id, status.value, reason, landed, routed))

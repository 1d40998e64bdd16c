"""Run one task's workflow in the foreground: create or find its run, execute it durably, report progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animus import procs
from animus.domain.errors import AnimusError, Conflict, InvalidInput
from animus.domain.runs import RunStatus, WorkflowRun, check_run_transition
from animus.domain.tasks import TaskStatus
from animus.engine._plan import build_plan
from animus.engine._runtime import _DBOS_ENDED, _DBOS_UNFINISHED, ExecutorLock, start_engine, stop_engine
from animus.engine._steps import EngineContext
from animus.engine._txns import _move_task

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.store import Store

_Emit = Callable[[dict[str, Any]], None]
_COMMAND_TAIL_LINES = 15  # how much of a command phase's output the progress shows (the log keeps all)


def choose_workflow(config: WorkflowConfig, task_workflow: str | None, requested: str | None) -> str:
    workflow = requested or task_workflow or config.default_workflow
    config.workflow(workflow)  # NotFound with the known ids
    return workflow


def prepare_run(
    store: Store,
    config: WorkflowConfig,
    task_id: str,
    *,
    workflow: str | None = None,
    variables: dict[str, str] | None = None,
    root: Path | None = None,
) -> tuple[WorkflowRun, bool]:
    """The task's active run (never a second one), or a new pending run with its plan frozen."""
    task = store.get_task(task_id)
    latest = next(iter(store.list_runs(task_id=task_id, limit=1)), None)
    if latest is not None and latest.status.is_terminal and store.journal_status(latest.dbos_workflow_id) in _DBOS_UNFINISHED:
        # Killed after the run's last state change but before its workflow finished (e.g. cleanup):
        # finish that journal instead of refusing or starting another run.
        return latest, False
    active = store.active_run_for_task(task_id)
    if active is not None:
        if workflow and workflow != active.workflow:
            raise Conflict(
                f"{task_id} already has an active run {active.id} of workflow {active.workflow!r}",
                hint=f"finish or cancel it first: `animus workflow cancel {active.id}`",
            )
        if variables and variables != {k: v for k, v in active.vars.items() if k in variables}:
            raise Conflict(f"{task_id} already has an active run {active.id} with other --var values")
        return active, False
    if task.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        raise Conflict(f"{task_id} is {task.status.value}", hint=f"reopen it first: `animus task status {task_id} backlog`")
    name = choose_workflow(config, task.workflow, workflow)
    plan = build_plan(config, name, variables=variables, root=root)
    run = store.create_run(task_id, name, dict(variables or {}))
    return store.update_run(run.id, plan=plan, state={}), True


@dataclass
class RunFollower:
    """Turns store changes (phases, decisions, agent events, command output) into progress events, each once.

    ``replay_history`` first emits what the store already holds, each event marked ``history``, and
    then ``run.continues`` naming where the run goes on: a resumed or re-attached run does not look
    as if it ran all over again.
    """

    store: Store
    ctx: EngineContext
    run_id: str
    emit: _Emit
    seen_phases: dict[int, str] = field(default_factory=dict)
    seen_decision_keys: set[tuple[int]] = field(default_factory=set)
    readers: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    outputs_shown: set[int] = field(default_factory=set)
    in_history: bool = False

    def replay_history(self) -> None:
        """Emit what was recorded before this follower started, marked history, then where the run continues."""
        self.in_history = True
        try:
            run = self.poll()
        finally:
            self.in_history = False
        if self.seen_phases:
            self._send({"event": "run.continues", "run_id": self.run_id, **_continues_at(run, self.store.phase_runs(self.run_id))})

    def poll(self) -> WorkflowRun:
        run = self.store.get_run(self.run_id)
        decisions = self.store.decisions(self.run_id)
        by_attempt: dict[tuple[str, int], list[Any]] = {}
        for decision in decisions:
            by_attempt.setdefault((decision.phase, decision.attempt), []).append(decision)
        phases = self.store.phase_runs(self.run_id)
        recorded_phases = {(p.phase, p.attempt) for p in phases}
        # decisions with no phase row (the PR loop's, landing's) are shown in time order among the phases
        loose = [d for key, found in by_attempt.items() if key not in recorded_phases for d in found]
        loose.sort(key=lambda d: d.seq)
        for phase in phases:
            while loose and loose[0].at < phase.started_at:
                self._decision(loose.pop(0))
            previous = self.seen_phases.get(phase.seq)
            if previous is None:
                self._send({"event": "phase.started", "run_id": self.run_id, **phase.to_dict()})
            if phase.agent_run_id:
                self._agent_events(phase)
            if previous != phase.status.value and previous is not None or (previous is None and phase.status.value == "waiting"):
                self._send({"event": "phase.status", "run_id": self.run_id, **phase.to_dict()})
            self.seen_phases[phase.seq] = phase.status.value
            for decision in by_attempt.pop((phase.phase, phase.attempt), []):
                self._decision(decision)
            self._command_output(phase)
        for decision in loose:
            self._decision(decision)
        for rest in by_attempt.values():
            for decision in rest:
                self._decision(decision)
        if run.status.value != self.status:
            self.status = run.status.value
            self._send({"event": "run.status", "run_id": run.id, "status": run.status.value, "phase": run.current_phase,
                        "pr_url": run.pr_url})
        return run

    def _send(self, event: dict[str, Any]) -> None:
        self.emit({**event, "history": True} if self.in_history else event)

    def _command_output(self, phase: Any) -> None:
        """An ended command phase: its last lines, the failing tests parsed from them, and where its full log is."""
        from animus.engine._steps import _failing_tests

        if phase.mode != "command" or phase.seq in self.outputs_shown or phase.status.value in ("running", "waiting", "skipped"):
            return
        self.outputs_shown.add(phase.seq)
        text = phase.output_excerpt or ""
        log = self.ctx.layout.command_log(phase.attempt_id)
        self._send({"event": "command.output", "run_id": self.run_id, "phase": phase.phase, "attempt": phase.attempt,
                    "status": phase.status.value, "tail": text.strip().splitlines()[-_COMMAND_TAIL_LINES:],
                    "failing_tests": _failing_tests(text), "log": str(log) if log.is_file() else None})

    def _decision(self, decision: Any) -> None:
        key = (decision.seq,)
        if key in self.seen_decision_keys:
            return
        self.seen_decision_keys.add(key)
        self._send({"event": "decision", **decision.to_dict()})

    def _agent_events(self, phase: Any) -> None:
        from animus import agents

        # Progress is a view: it must never end the run. The phase row names its agent run before the
        # launch step creates it, so wait for its
        # run dir and treat any read error as "not yet".
        reader = self.readers.get(phase.agent_run_id)
        try:
            if reader is None:
                if not (self.ctx.runs_dir / phase.agent_run_id / "spec.json").is_file():
                    return
                reader = self.readers[phase.agent_run_id] = agents.RunReader(phase.agent_run_id, self.ctx.runs_dir)
            events = reader.poll()
        except (AnimusError, OSError, ValueError):
            return
        for event in events:
            if event.kind in ("tool_call", "text", "error", "rate_limit"):
                self._send({"event": "agent", "run_id": self.run_id, "phase": phase.phase,
                           "agent_run_id": phase.agent_run_id, **event.to_dict()})


def execute_run(
    ctx: EngineContext, store: Store, run: WorkflowRun | Callable[[], WorkflowRun], emit: _Emit, *, poll_secs: float = 0.2
) -> WorkflowRun:
    """Execute (or recover and continue) a run in this process until it reaches a terminal status.

    ``run`` may be a callable that creates or finds the run: it is called once the executor lock is
    held, so a refused second executor leaves no run record behind.
    """
    from dbos import DBOS, SetWorkflowID

    lock = ExecutorLock(ctx.state_dir, "animus run")
    lock.acquire()
    try:
        if callable(run):
            run = run()
        workflow = start_engine(ctx, log_file=ctx.layout.engine_log if _ensure_logs(ctx) else None)
        try:
            follower = RunFollower(store, ctx, run.id, emit)
            emit({"event": "run.started", "run_id": run.id, "task_id": run.task_id, "workflow": run.workflow,
                  "dbos_workflow_id": run.dbos_workflow_id})
            follower.replay_history()  # before the workflow starts, so nothing new is mistaken for history
            with SetWorkflowID(run.dbos_workflow_id):
                handle = DBOS.start_workflow(workflow, run.id)
            while True:
                current = follower.poll()
                status = handle.get_status().status
                if status in _DBOS_ENDED:
                    if status == "ERROR":
                        error = workflow_error(handle)
                        current = fail_run_on_error(store, current, error)
                    current = follower.poll()
                    return current
                if current.status.is_terminal and current.status == RunStatus.CANCELLED:
                    return current
                time.sleep(poll_secs)
        finally:
            stop_engine()
    finally:
        lock.release()


def _continues_at(run: WorkflowRun, phases: list[Any]) -> dict[str, Any]:
    """Where a run goes on from: its open phase attempt, else the next phase by the plan, else landing."""
    open_ = next((p for p in phases if p.status.value in ("running", "waiting")), None)
    if open_ is not None:
        return {"phase": open_.phase, "attempt": open_.attempt, "under_way": True}
    plan_phases = (run.plan or {}).get("phases") or []
    if run.phase_index < len(plan_phases):
        phase_id = plan_phases[run.phase_index]["id"]
        attempt = int((run.state.get("attempts") or {}).get(phase_id, 0)) + 1
        return {"phase": phase_id, "attempt": attempt, "under_way": False}
    return {"phase": None, "attempt": None, "under_way": False}  # every phase is done: landing is next


def _ensure_logs(ctx: EngineContext) -> bool:
    procs.private_dir(ctx.layout.logs_dir, top=ctx.layout.private_top)
    return True


def workflow_error(handle: Any) -> str:
    try:
        handle.get_result()
    except Exception as exc:  # the workflow's own exception, re-raised by DBOS
        return f"{type(exc).__name__}: {exc}"
    return "the workflow ended with an error"


def fail_run_on_error(store: Store, run: WorkflowRun, error: str) -> WorkflowRun:
    if run.status.is_terminal:
        return run
    from animus.store import now_iso

    check_run_transition(run.status, RunStatus.FAILED)
    updated = store.update_run(run.id, status=RunStatus.FAILED, failure_reason=error[:4000], ended_at=now_iso())
    if store.get_task(run.task_id).status != TaskStatus.BLOCKED:
        _move_task(store, run.task_id, TaskStatus.BLOCKED, reason=f"run {run.id} failed: {error}"[:2000])
    return updated


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"invalid --var {pair!r}; expected KEY=VALUE")
        out[key.strip()] = value
    return out

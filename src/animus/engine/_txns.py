"""The run's state changes, each one datasource transaction recorded with its step (exactly once).

Every function takes the store over the transaction's connection first; ``_workflow.register`` binds them to DBOS.
Each first checks, under the run row's lock, that this executor still owns the run (``_fleet._fence``).
A run a user cancelled stays cancelled: no transaction moves it out of that status.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from animus.domain.runs import DecisionRecord, PhaseStatus, RunStatus, Verdict, WorkflowRun, check_run_transition
from animus.domain.tasks import TRANSITIONS, TaskStatus
from animus.engine._fleet import _fence
from animus.engine._pr_gate import _new_memory, _pr_number
from animus.engine._steps import EngineContext
from animus.engine._types import (
    Judgement,
    Route,
    RunState,
    _Landing,
    _LoadedRun,
    _Moved,
    _PhaseStarted,
    _PhaseSummary,
    _PrDecision,
    _PrMemory,
    _Worktree,
    plan_of,
    state_of,
    task_snapshot,
)
from animus.store import SessionConnection, Store, now_iso, open_store

_PHASE_STATUS = {Verdict.ADVANCE: PhaseStatus.ADVANCED, Verdict.SKIP: PhaseStatus.SKIPPED, Verdict.REWORK: PhaseStatus.REWORK,
                 Verdict.FAIL: PhaseStatus.FAILED}
_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def _session_store(ds: Any) -> Store:
    """The store's operations on the connection of the datasource transaction running now."""
    return Store(SessionConnection(ds.sql_session()), url="")


def _engine_store(ctx: EngineContext) -> Store:
    with _stores_lock:
        store = _stores.get(ctx.db_url)
        if store is None:
            store = _stores[ctx.db_url] = open_store(ctx.db_url)
        return store


def _load_run(ctx: EngineContext, run_id: str) -> _LoadedRun:
    """Everything the loop needs, read once and recorded: plan, task snapshot, state, position."""
    store = _engine_store(ctx)
    run = store.get_run(run_id)
    task = store.get_task(run.task_id)
    return {"status": run.status.value, "plan": plan_of(run), "task": task_snapshot(task), "state": state_of(run),
            "phase_index": run.phase_index}


def _move_task(store: Store, task_id: str, target: TaskStatus, *, reason: str | None = None) -> None:
    """Move a run's task as the run's progress says, through the transition table where it allows.

    The one forced move: a person changed the task's status by hand (to ``done``, ``cancelled`` or
    ``backlog``) while its run was in flight. The run owns the task until it ends, so its outcome
    wins; the task event records ``forced`` so the override stays visible.
    """
    task = store.get_task(task_id)
    if task.status == target and (reason is None or task.blocked_reason == reason):
        return
    store.set_status(task_id, target, force=task.status != target and target not in TRANSITIONS[task.status], reason=reason)


def _move_run(store: Store, run: WorkflowRun, target: RunStatus, **fields: Any) -> RunStatus:
    """Set the run's status (and ``fields``) after checking ``RUN_TRANSITIONS``."""
    check_run_transition(run.status, target)
    store.set_run_fields(run.id, status=target, **fields)
    return target


def _block_task(store: Store, task_id: str, reason: str) -> None:
    _move_task(store, task_id, TaskStatus.BLOCKED, reason=reason[:2000])


def _begin(store: Store, run_id: str, worktree: _Worktree) -> _Moved:
    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value}
    started = {} if run.started_at else {"started_at": now_iso()}
    fields: dict[str, Any] = {"branch": worktree["branch"], "worktree": worktree["path"], "base_sha": worktree["base_sha"], **started}
    if run.status == RunStatus.PENDING:
        _move_run(store, run, RunStatus.RUNNING, **fields)
    else:
        store.set_run_fields(run_id, **fields)
    _move_task(store, run.task_id, TaskStatus.IN_PROGRESS)
    return {"status": RunStatus.RUNNING.value}


def _phase_start(
    store: Store, run_id: str, index: int, phase_id: str, attempt: int, mode: str, status: str, agent_run_id: str | None = None
) -> _PhaseStarted:
    _fence(store, run_id)
    run = store.get_run(run_id)
    seq = store.start_phase(run_id, phase_id, attempt, mode, PhaseStatus(status))
    if agent_run_id:
        store.update_phase(run_id, seq, agent_run_id=agent_run_id)
    state = dict(run.state)
    state["attempts"] = {**state.get("attempts", {}), phase_id: attempt}
    fields: dict[str, Any] = {"phase_index": index, "current_phase": phase_id, "state": state}
    if run.status in (RunStatus.PENDING, RunStatus.WAITING_MANUAL):
        _move_run(store, run, RunStatus.RUNNING, **fields)
    else:
        store.set_run_fields(run_id, **fields)
    return {"seq": seq}


def _phase_agent(store: Store, run_id: str, seq: int, agent_run_id: str) -> dict[str, Any]:
    _fence(store, run_id)
    store.update_phase(run_id, seq, agent_run_id=agent_run_id)
    return {"agent_run_id": agent_run_id}


def _waiting(store: Store, run_id: str, seq: int) -> _Moved:
    _fence(store, run_id)
    run = store.get_run(run_id)
    store.update_phase(run_id, seq, status=PhaseStatus.WAITING)
    if run.status != RunStatus.CANCELLED:
        _move_run(store, run, RunStatus.WAITING_MANUAL)
    return {"status": RunStatus.WAITING_MANUAL.value}


def _phase_end(
    store: Store,
    run_id: str,
    seq: int,
    index: int,
    attempt: int,
    judged: Judgement,
    routed: Route,
    summary: _PhaseSummary,
) -> _Moved:
    """Record the decision, close the phase row and move the run — in one transaction."""
    _fence(store, run_id)
    run = store.get_run(run_id)
    assert run.plan is not None
    phase = run.plan["phases"][index]
    effective = Verdict(judged["effective"])
    terminal = routed["action"] == "stop"
    reason = judged["reason"] + (f" ({routed['why']})" if routed.get("why") else "")
    store.add_decision(DecisionRecord(
            run_id=run_id,
            seq=0,
            phase=phase["id"],
            attempt=attempt,
            source=judged["source"],
            verdict=Verdict(judged["verdict"]).value,
            effective=effective.value,
            target_phase=routed.get("target_phase"),
            confidence=judged.get("confidence"),
            risk=judged.get("risk"),
            reason=reason,
            evidence=list(judged.get("evidence") or []),
        ),
    )
    status = _PHASE_STATUS.get(effective, PhaseStatus.FAILED)
    if terminal and status == PhaseStatus.REWORK:
        status = PhaseStatus.FAILED
    store.update_phase(run_id,
        seq,
        status=status,
        ended_at=now_iso(),
        input_tokens=int(summary.get("input_tokens", 0)),
        output_tokens=int(summary.get("output_tokens", 0)),
        cost_usd=float(summary.get("cost_usd", 0.0)),
        commit_sha=summary.get("commit_sha"),
        output_excerpt=summary.get("excerpt"),
        agent=summary.get("agent"), model=summary.get("model"), cost_known=bool(summary.get("cost_known", True)),
    )
    store.add_usage(run_id, int(summary.get("input_tokens", 0)), int(summary.get("output_tokens", 0)), float(summary.get("cost_usd", 0.0)))
    state = dict(run.state)
    excerpt = summary.get("excerpt")
    if excerpt and effective != Verdict.SKIP:
        state["outputs"] = {**state.get("outputs", {}), phase["id"]: excerpt[-2000:]}
    rework = state.get("rework")
    if effective == Verdict.ADVANCE and rework and rework.get("target") == phase["id"]:
        state.pop("rework", None)
    if routed["action"] == "rework":
        state["rework_counts"] = {**state.get("rework_counts", {}), phase["id"]: int(state.get("rework_counts", {}).get(phase["id"], 0)) + 1}
        state["rework"] = {
            "target": routed["target_phase"],
            "from": phase["id"],
            "reason": judged["reason"],
            "excerpt": summary.get("excerpt") if phase["mode"] == "command" else None,
            "failing_tests": summary.get("failing_tests") or [],
        }
    fields: dict[str, Any] = {"state": state, "phase_index": int(routed["next_index"])}
    new_status = run.status
    if run.status == RunStatus.CANCELLED:
        new_status = RunStatus.CANCELLED
    elif terminal:
        assert routed["status"] is not None, "a stop route names the run's terminal status"
        new_status = RunStatus(routed["status"])
        fields.update(failure_reason=reason[:4000], ended_at=now_iso())
        _block_task(store, run.task_id, f"run {run_id} {new_status.value}: {reason}")
    elif run.status == RunStatus.WAITING_MANUAL:
        new_status = RunStatus.RUNNING
    if new_status != run.status:
        _move_run(store, run, new_status, **fields)
    else:
        store.set_run_fields(run_id, **fields)
    return {"state": cast(RunState, state), "status": new_status.value}


def _complete(store: Store, run_id: str, landed: _Landing) -> _Moved:
    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value}
    assert run.plan is not None
    state = {**run.state, "landing": landed["status"]}
    if landed["status"] == "nothing_to_land":
        # Said where the progress and `workflow decisions` show it: the run completed, but landed nothing.
        store.add_decision(DecisionRecord(
            run_id=run_id, seq=0, phase="land", attempt=int(state.get("conflict_reworks", 0)) + 1, source="land",
            verdict=Verdict.SKIP.value, effective=Verdict.SKIP.value, target_phase=None, confidence=None, risk=None,
            reason="no changes: the task branch has no commit beyond its base, so nothing was landed", evidence=[],
        ))
    _move_run(
        store,
        run,
        RunStatus.COMPLETED,
        state=state,
        landed_sha=landed.get("sha"),
        pr_url=landed.get("pr_url"),
        ended_at=now_iso(),
        phase_index=len(run.plan["phases"]),
        failure_reason=None,
    )
    _move_task(store, run.task_id, TaskStatus.DONE)
    return {"status": RunStatus.COMPLETED.value}


def _stop(
    store: Store,
    run_id: str,
    status: str,
    reason: str,
    landed: _Landing | None = None,
    routed: Route | None = None,
) -> _Moved:
    """End the run (``failed``/``merge_conflict``), or send a conflicting landing back for rework."""
    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value, "state": cast(RunState, run.state)}
    state = dict(run.state)
    rework = routed is not None and routed["action"] == "rework"
    verdict = Verdict.REWORK if rework else Verdict.FAIL
    store.add_decision(DecisionRecord(
            run_id=run_id, seq=0, phase="land", attempt=int(state.get("conflict_reworks", 0)) + 1, source="land",
            verdict=verdict.value, effective=verdict.value,
            target_phase=routed.get("target_phase") if routed else None, confidence=None, risk=None, reason=reason,
            evidence=[{"kind": "merge_conflict", "description": f} for f in (landed["conflict_files"] if landed else [])],
        ),
    )
    if rework:
        assert routed is not None
        state["conflict_reworks"] = int(state.get("conflict_reworks", 0)) + 1
        state["rework"] = {"target": routed["target_phase"], "from": "land", "reason": reason,
                           "conflict_files": (landed["conflict_files"] if landed else [])}
        store.set_run_fields(run_id, state=state, phase_index=int(routed["next_index"]))
        return {"status": RunStatus.RUNNING.value, "state": cast(RunState, state)}
    final = _move_run(store, run, RunStatus(status), failure_reason=reason[:4000], ended_at=now_iso(), state=state)
    _block_task(store, run.task_id, f"run {run_id} {final.value}: {reason}")
    return {"status": final.value, "state": cast(RunState, state)}


def _pr_wait(store: Store, run_id: str, landed: _Landing) -> _Moved:
    """The PR is open (created or pushed to): the run waits on it, remembering which PR it is."""
    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value, "state": cast(RunState, run.state)}
    url = landed["pr_url"] or ""
    number = landed.get("pr_number") or _pr_number(url)
    assert number is not None, f"the landing of run {run_id} names no pull request: {landed}"
    state = dict(run.state)
    memory: _PrMemory | None = state.get("pr")
    if memory is None or memory["number"] != number:  # a first PR, or a new one after the old was closed
        memory = _new_memory(number, url, landed.get("pr_repo"))
    state["pr"] = {**memory, "url": url, "escalated": False}
    opened = "opened" if landed.get("pr_created") else "pushed"
    head = landed.get("head_sha")
    store.add_decision(DecisionRecord(
        run_id=run_id, seq=0, phase="pr", attempt=int(memory["reworks"]) + 1, source="pr", verdict=opened,
        effective="wait", target_phase=None, confidence=None, risk=None,
        reason=f"PR #{number} {'opened' if opened == 'opened' else 'updated'}" + (f" at {head[:10]}" if head else "")
        + f": {url}; waiting on its checks and reviews", evidence=[],
    ))
    _move_run(store, run, RunStatus.WAITING_PR, state=state, pr_url=url or None)
    return {"status": RunStatus.WAITING_PR.value, "state": cast(RunState, state)}


def _pr_decision(store: Store, run_id: str, decided: _PrDecision) -> _Moved:
    """Record what one look at the PR decided and move the run as it says — in one transaction."""
    _fence(store, run_id)
    run = store.get_run(run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": RunStatus.CANCELLED.value, "state": cast(RunState, run.state)}
    assert run.plan is not None
    action, memory, reason = decided["action"], decided["memory"], decided["reason"]
    state = dict(run.state)
    state["pr"] = memory
    store.add_decision(DecisionRecord(
        run_id=run_id, seq=0, phase="pr", attempt=int(memory["reworks"]) + (0 if action == "rework" else 1), source="pr",
        verdict=decided["seen"], effective=action, target_phase=decided["target_phase"], confidence=None, risk=None,
        reason=reason, evidence=list(decided["evidence"]),
    ))
    if action == "wait":
        store.set_run_fields(run_id, state=state)
        return {"status": run.status.value, "state": cast(RunState, state)}
    if action == "rework":
        assert "rework" in decided and decided["next_index"] is not None
        state["rework"] = decided["rework"]
        _move_run(store, run, RunStatus.RUNNING, state=state, phase_index=int(decided["next_index"]))
        return {"status": RunStatus.RUNNING.value, "state": cast(RunState, state)}
    if action == "complete":
        state["landing"] = "pr_merged"
        _move_run(store, run, RunStatus.COMPLETED, state=state, landed_sha=decided.get("merged_sha"), ended_at=now_iso(),
                  phase_index=len(run.plan["phases"]), failure_reason=None)
        _move_task(store, run.task_id, TaskStatus.DONE)
        return {"status": RunStatus.COMPLETED.value, "state": cast(RunState, state)}
    if action == "cancel":  # the PR was closed unmerged: the person's "no"
        _move_run(store, run, RunStatus.CANCELLED, state=state, failure_reason=reason[:4000], ended_at=now_iso())
        _block_task(store, run.task_id, reason)
        return {"status": RunStatus.CANCELLED.value, "state": cast(RunState, state)}
    assert action in ("escalate", "fail"), f"no transaction for PR action {action!r}"
    if action == "escalate":
        state["pr"] = {**memory, "escalated": True}
    final = _move_run(store, run, RunStatus.ESCALATED if action == "escalate" else RunStatus.FAILED, state=state,
                      failure_reason=reason[:4000], ended_at=now_iso())
    _block_task(store, run.task_id, f"run {run_id} {final.value}: {reason}")
    return {"status": final.value, "state": cast(RunState, state)}

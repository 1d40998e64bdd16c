"""The run's state changes, each one datasource transaction recorded with its step (exactly once).

Every function takes the transaction's connection first; ``_workflow.register`` binds them to DBOS.
A run a user cancelled stays cancelled: no transaction moves it out of that status.
"""

from __future__ import annotations

import threading
from typing import Any

from animus.domain.runs import DecisionRecord, PhaseStatus, RunStatus
from animus.domain.tasks import TaskStatus
from animus.engine._steps import EngineContext
from animus.store import Connection, SessionConnection, Store, now_iso, open_store
from animus.store import runs as run_rows
from animus.store import tasks as task_rows

_PHASE_STATUS = {"advance": PhaseStatus.ADVANCED, "skip": PhaseStatus.SKIPPED, "rework": PhaseStatus.REWORK, "fail": PhaseStatus.FAILED}
_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def session_conn(ds: Any) -> SessionConnection:
    return SessionConnection(ds.sql_session())


def engine_store(ctx: EngineContext) -> Store:
    with _stores_lock:
        store = _stores.get(ctx.db_url)
        if store is None:
            store = _stores[ctx.db_url] = open_store(ctx.db_url)
        return store


def load_run(ctx: EngineContext, run_id: str) -> dict[str, Any]:
    """Everything the loop needs, read once and recorded: plan, task snapshot, state, position."""
    store = engine_store(ctx)
    run = store.get_run(run_id)
    task = store.get_task(run.task_id)
    return {
        "status": run.status.value,
        "plan": run.plan,
        "task": task.to_dict(),
        "state": run.state,
        "phase_index": run.phase_index,
    }


def _block_task(conn: Connection, task_id: str, reason: str) -> None:
    task = task_rows.get_task(conn, task_id)
    if task.status != TaskStatus.BLOCKED or task.blocked_reason != reason:
        task_rows.set_status(conn, task_id, TaskStatus.BLOCKED, force=True, reason=reason[:2000])


def begin(conn: Connection, run_id: str, worktree: dict[str, Any]) -> dict[str, Any]:
    run = run_rows.get_run(conn, run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": "cancelled"}
    fields: dict[str, Any] = {"branch": worktree["branch"], "worktree": worktree["path"], "base_sha": worktree["base_sha"]}
    if run.status == RunStatus.PENDING:
        fields["status"] = RunStatus.RUNNING
    if not run.started_at:
        fields["started_at"] = now_iso()
    run_rows.set_run_fields(conn, run_id, **fields)
    task = task_rows.get_task(conn, run.task_id)
    if task.status != TaskStatus.IN_PROGRESS:
        task_rows.set_status(conn, run.task_id, TaskStatus.IN_PROGRESS, force=True)
    return {"status": "running"}


def phase_start(
    conn: Connection, run_id: str, index: int, phase_id: str, attempt: int, mode: str, status: str, agent_run_id: str | None = None
) -> dict[str, Any]:
    run = run_rows.get_run(conn, run_id)
    seq = run_rows.start_phase(conn, run_id, phase_id, attempt, mode, PhaseStatus(status))
    if agent_run_id:
        run_rows.update_phase(conn, run_id, seq, agent_run_id=agent_run_id)
    state = dict(run.state)
    state["attempts"] = {**state.get("attempts", {}), phase_id: attempt}
    fields: dict[str, Any] = {"phase_index": index, "current_phase": phase_id, "state": state}
    if run.status in (RunStatus.PENDING, RunStatus.WAITING_MANUAL):
        fields["status"] = RunStatus.RUNNING
    run_rows.set_run_fields(conn, run_id, **fields)
    return {"seq": seq}


def phase_agent(conn: Connection, run_id: str, seq: int, agent_run_id: str) -> dict[str, Any]:
    run_rows.update_phase(conn, run_id, seq, agent_run_id=agent_run_id)
    return {"agent_run_id": agent_run_id}


def waiting(conn: Connection, run_id: str, seq: int) -> dict[str, Any]:
    run = run_rows.get_run(conn, run_id)
    run_rows.update_phase(conn, run_id, seq, status=PhaseStatus.WAITING)
    if run.status != RunStatus.CANCELLED:
        run_rows.set_run_fields(conn, run_id, status=RunStatus.WAITING_MANUAL)
    return {"status": "waiting_manual"}


def phase_end(
    conn: Connection,
    run_id: str,
    seq: int,
    index: int,
    attempt: int,
    judged: dict[str, Any],
    routed: dict[str, Any],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Record the decision, close the phase row and move the run — in one transaction."""
    run = run_rows.get_run(conn, run_id)
    assert run.plan is not None
    phase = run.plan["phases"][index]
    effective = judged["effective"]
    terminal = routed["action"] == "stop"
    reason = judged["reason"] + (f" ({routed['why']})" if routed.get("why") else "")
    run_rows.add_decision(
        conn,
        DecisionRecord(
            run_id=run_id,
            seq=0,
            phase=phase["id"],
            attempt=attempt,
            source=judged["source"],
            verdict=judged["verdict"],
            effective=effective,
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
    run_rows.update_phase(
        conn,
        run_id,
        seq,
        status=status,
        ended_at=now_iso(),
        input_tokens=int(summary.get("input_tokens", 0)),
        output_tokens=int(summary.get("output_tokens", 0)),
        cost_usd=float(summary.get("cost_usd", 0.0)),
        commit_sha=summary.get("commit_sha"),
        output_excerpt=summary.get("excerpt"),
    )
    run_rows.add_usage(conn, run_id, int(summary.get("input_tokens", 0)), int(summary.get("output_tokens", 0)), float(summary.get("cost_usd", 0.0)))
    state = dict(run.state)
    if summary.get("excerpt") and effective != "skip":
        state["outputs"] = {**state.get("outputs", {}), phase["id"]: summary["excerpt"][-2000:]}
    rework = state.get("rework")
    if effective == "advance" and rework and rework.get("target") == phase["id"]:
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
        new_status = RunStatus(routed["status"])
        fields.update(status=new_status, failure_reason=reason[:4000], ended_at=now_iso())
        _block_task(conn, run.task_id, f"run {run_id} {new_status.value}: {reason}")
    elif run.status == RunStatus.WAITING_MANUAL:
        new_status = RunStatus.RUNNING
        fields["status"] = new_status
    run_rows.set_run_fields(conn, run_id, **fields)
    return {"state": state, "status": new_status.value}


def complete(conn: Connection, run_id: str, landed: dict[str, Any]) -> dict[str, Any]:
    run = run_rows.get_run(conn, run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": "cancelled"}
    assert run.plan is not None
    run_rows.set_run_fields(
        conn,
        run_id,
        status=RunStatus.COMPLETED,
        landed_sha=landed.get("sha"),
        pr_url=landed.get("pr_url"),
        ended_at=now_iso(),
        phase_index=len(run.plan["phases"]),
        failure_reason=None,
    )
    if task_rows.get_task(conn, run.task_id).status != TaskStatus.DONE:
        task_rows.set_status(conn, run.task_id, TaskStatus.DONE, force=True)
    return {"status": "completed"}


def stop(
    conn: Connection,
    run_id: str,
    status: str,
    reason: str,
    landed: dict[str, Any] | None = None,
    routed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """End the run (``failed``/``merge_conflict``), or send a conflicting landing back for rework."""
    run = run_rows.get_run(conn, run_id)
    if run.status == RunStatus.CANCELLED:
        return {"status": "cancelled", "state": run.state}
    state = dict(run.state)
    rework = routed is not None and routed["action"] == "rework"
    run_rows.add_decision(
        conn,
        DecisionRecord(
            run_id=run_id, seq=0, phase="land", attempt=int(state.get("conflict_reworks", 0)) + 1, source="land",
            verdict="rework" if rework else "fail", effective="rework" if rework else "fail",
            target_phase=routed.get("target_phase") if routed else None, confidence=None, risk=None, reason=reason,
            evidence=[{"kind": "merge_conflict", "description": f} for f in (landed or {}).get("conflict_files", [])],
        ),
    )
    if rework:
        assert routed is not None
        state["conflict_reworks"] = int(state.get("conflict_reworks", 0)) + 1
        state["rework"] = {"target": routed["target_phase"], "from": "land", "reason": reason,
                           "conflict_files": (landed or {}).get("conflict_files", [])}
        run_rows.set_run_fields(conn, run_id, state=state, phase_index=int(routed["next_index"]))
        return {"status": "running", "state": state}
    final = RunStatus(status)
    run_rows.set_run_fields(conn, run_id, status=final, failure_reason=reason[:4000], ended_at=now_iso(), state=state)
    _block_task(conn, run.task_id, f"run {run_id} {final.value}: {reason}")
    return {"status": final.value, "state": state}

"""Workflow-run rows: runs, their phase attempts and decisions (written by the engine's transactions)."""

from __future__ import annotations

import json
from typing import Any

from animus.domain.errors import NotFound
from animus.domain.runs import (
    ACTIVE_RUN_STATUSES,
    DecisionRecord,
    PhaseRun,
    PhaseSpend,
    PhaseStatus,
    RunStatus,
    WorkflowRun,
    loads_json,
)
from animus.store._db import Connection, _Row
from animus.store._tasks import _record_event, now_iso

_RUN_FIELDS = frozenset(
    {
        "status",
        "phase_index",
        "current_phase",
        "branch",
        "worktree",
        "base_sha",
        "plan",
        "state",
        "failure_reason",
        "landed_sha",
        "pr_url",
        "started_at",
        "ended_at",
        "generation",
    }
)
_PHASE_FIELDS = frozenset(
    {"status", "agent_run_id", "commit_sha", "input_tokens", "output_tokens", "cost_usd", "output_excerpt", "ended_at",
     "agent", "model", "cost_known"}
)


def _run(row: _Row) -> WorkflowRun:
    return WorkflowRun(
        id=row["id"],
        task_id=row["task_id"],
        workflow=row["workflow"],
        generation=int(row["generation"]),
        status=RunStatus(row["status"]),
        phase_index=int(row["phase_index"]),
        current_phase=row["current_phase"],
        branch=row["branch"],
        worktree=row["worktree"],
        base_sha=row["base_sha"],
        vars=loads_json(row["vars"], {}),
        plan=loads_json(row["plan"], None),
        state=loads_json(row["state"], {}),
        failure_reason=row["failure_reason"],
        landed_sha=row["landed_sha"],
        pr_url=row["pr_url"],
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost_usd=float(row["cost_usd"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        updated_at=row["updated_at"],
        owner=row.get("owner"),
        owner_epoch=int(row.get("owner_epoch") or 0),
    )


def _phase(row: _Row) -> PhaseRun:
    return PhaseRun(
        run_id=row["run_id"],
        seq=int(row["seq"]),
        phase=row["phase"],
        attempt=int(row["attempt"]),
        mode=row["mode"],
        status=PhaseStatus(row["status"]),
        agent_run_id=row["agent_run_id"],
        commit_sha=row["commit_sha"],
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost_usd=float(row["cost_usd"]),
        output_excerpt=row["output_excerpt"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        agent=row.get("agent"),
        model=row.get("model"),
        cost_known=bool(row.get("cost_known", 1)),
    )


def _decision(row: _Row) -> DecisionRecord:
    return DecisionRecord(
        run_id=row["run_id"],
        seq=int(row["seq"]),
        phase=row["phase"],
        attempt=int(row["attempt"]),
        source=row["source"],
        verdict=row["verdict"],
        effective=row["effective"],
        target_phase=row["target_phase"],
        confidence=None if row["confidence"] is None else float(row["confidence"]),
        risk=row["risk"],
        reason=row["reason"],
        evidence=loads_json(row["evidence"], []),
        at=row["at"],
    )


def _create_run(conn: Connection, task_id: str, workflow: str, vars_: dict[str, str]) -> WorkflowRun:
    """A new pending run ``<task>.<workflow>.<n>``; ``n`` counts this task's runs of that workflow."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT COUNT(*) AS n FROM workflow_runs WHERE task_id = :t AND workflow = :w", {"t": task_id, "w": workflow}
        )
        run_id = f"{task_id}.{workflow}.{int(rows[0]['n']) + 1}"
        stamp = now_iso()
        conn.execute(
            """INSERT INTO workflow_runs (id, task_id, workflow, status, vars, created_at, updated_at)
               VALUES (:id, :t, :w, 'pending', :vars, :at, :at)""",
            {"id": run_id, "t": task_id, "w": workflow, "vars": json.dumps(vars_, sort_keys=True), "at": stamp},
        )
        _record_event(conn, "run.created", run_id, {"task_id": task_id, "workflow": workflow})
        return _get_run(conn, run_id)


def _get_run(conn: Connection, run_id: str) -> WorkflowRun:
    rows = conn.execute("SELECT * FROM workflow_runs WHERE id = :id", {"id": run_id})
    if not rows:
        raise NotFound(f"workflow run {run_id} not found", hint="list runs with `animus workflow list`")
    return _run(rows[0])


def _active_run_for_task(conn: Connection, task_id: str) -> WorkflowRun | None:
    marks = ", ".join(f"'{s.value}'" for s in ACTIVE_RUN_STATUSES)
    rows = conn.execute(
        f"SELECT * FROM workflow_runs WHERE task_id = :t AND status IN ({marks}) ORDER BY created_at DESC LIMIT 1",
        {"t": task_id},
    )
    return _run(rows[0]) if rows else None


def _list_runs(
    conn: Connection, *, task_id: str | None = None, statuses: tuple[RunStatus, ...] = (), limit: int = 100
) -> list[WorkflowRun]:
    where, params = [], {"limit": limit}
    if task_id:
        where.append("task_id = :t")
        params["t"] = task_id  # type: ignore[assignment]
    if statuses:
        where.append("status IN (" + ", ".join(f"'{RunStatus(s).value}'" for s in statuses) + ")")
    sql = "SELECT * FROM workflow_runs" + (" WHERE " + " AND ".join(where) if where else "")
    return [_run(r) for r in conn.execute(sql + " ORDER BY created_at DESC LIMIT :limit", params)]


def _update_run(conn: Connection, run_id: str, **fields: Any) -> WorkflowRun:
    """Change fields of a run and return it as it is now."""
    _set_run_fields(conn, run_id, **fields)
    return _get_run(conn, run_id)


def _set_run_fields(conn: Connection, run_id: str, **fields: Any) -> None:
    """Change fields of a run (a status change is recorded as an event); no read-back."""
    unknown = set(fields) - _RUN_FIELDS
    assert not unknown, f"unknown run fields {unknown}"
    params: dict[str, Any] = {"id": run_id, "at": now_iso()}
    sets = ["updated_at = :at"]
    for name, value in fields.items():
        if name in ("plan", "state"):
            value = json.dumps(value, sort_keys=True)
        elif isinstance(value, RunStatus):
            value = value.value
        sets.append(f"{name} = :{name}")
        params[name] = value
    with conn.transaction():
        before = None
        if "status" in fields:
            rows = conn.execute("SELECT status FROM workflow_runs WHERE id = :id", {"id": run_id})
            if not rows:
                raise NotFound(f"workflow run {run_id} not found")
            before = rows[0]["status"]
        conn.execute(f"UPDATE workflow_runs SET {', '.join(sets)} WHERE id = :id", params)
        if before is not None and RunStatus(fields["status"]).value != before:
            _record_event(conn, "run.status", run_id, {"from": before, "to": RunStatus(fields["status"]).value})


def _add_usage(conn: Connection, run_id: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
    conn.execute(
        """UPDATE workflow_runs SET input_tokens = input_tokens + :i, output_tokens = output_tokens + :o,
           cost_usd = cost_usd + :c, updated_at = :at WHERE id = :id""",
        {"i": input_tokens, "o": output_tokens, "c": cost_usd, "at": now_iso(), "id": run_id},
    )


def _start_phase(conn: Connection, run_id: str, phase: str, attempt: int, mode: str, status: PhaseStatus) -> int:
    """A new phase-run row; its ``seq`` (the order of phase attempts within the run)."""
    with conn.transaction():
        rows = conn.execute("SELECT COALESCE(MAX(seq), 0) AS n FROM phase_runs WHERE run_id = :r", {"r": run_id})
        seq = int(rows[0]["n"]) + 1
        conn.execute(
            """INSERT INTO phase_runs (run_id, seq, phase, attempt, mode, status, started_at)
               VALUES (:r, :s, :p, :a, :m, :st, :at)""",
            {"r": run_id, "s": seq, "p": phase, "a": attempt, "m": mode, "st": status.value, "at": now_iso()},
        )
        _record_event(conn, "phase.started", run_id, {"phase": phase, "attempt": attempt, "seq": seq})
        return seq


def _update_phase(conn: Connection, run_id: str, seq: int, **fields: Any) -> None:
    unknown = set(fields) - _PHASE_FIELDS
    assert not unknown, f"unknown phase fields {unknown}"
    params: dict[str, Any] = {"r": run_id, "s": seq}
    sets = []
    for name, value in fields.items():
        sets.append(f"{name} = :{name}")
        params[name] = value.value if isinstance(value, PhaseStatus) else int(value) if isinstance(value, bool) else value
    conn.execute(f"UPDATE phase_runs SET {', '.join(sets)} WHERE run_id = :r AND seq = :s", params)
    if "status" in fields:
        _record_event(conn, "phase.status", run_id, {"seq": seq, "status": str(params["status"])})


def _list_phase_runs(conn: Connection, run_id: str) -> list[PhaseRun]:
    return [_phase(r) for r in conn.execute("SELECT * FROM phase_runs WHERE run_id = :r ORDER BY seq", {"r": run_id})]


def _add_decision(conn: Connection, record: DecisionRecord) -> int:
    """Record a decision (its ``seq`` is assigned here); returns that seq."""
    with conn.transaction():
        rows = conn.execute("SELECT COALESCE(MAX(seq), 0) AS n FROM decisions WHERE run_id = :r", {"r": record.run_id})
        seq = int(rows[0]["n"]) + 1
        stamp = now_iso()
        conn.execute(
            """INSERT INTO decisions (run_id, seq, phase, attempt, source, verdict, effective, target_phase,
                                      confidence, risk, reason, evidence, at)
               VALUES (:r, :s, :p, :a, :src, :v, :e, :t, :c, :risk, :reason, :ev, :at)""",
            {
                "r": record.run_id,
                "s": seq,
                "p": record.phase,
                "a": record.attempt,
                "src": record.source,
                "v": record.verdict,
                "e": record.effective,
                "t": record.target_phase,
                "c": record.confidence,
                "risk": record.risk,
                "reason": record.reason,
                "ev": json.dumps(record.evidence, ensure_ascii=False),
                "at": stamp,
            },
        )
        _record_event(conn, "decision", record.run_id, {"phase": record.phase, "verdict": record.verdict, "effective": record.effective})
        return seq


def _list_decisions(conn: Connection, run_id: str) -> list[DecisionRecord]:
    return [_decision(r) for r in conn.execute("SELECT * FROM decisions WHERE run_id = :r ORDER BY seq", {"r": run_id})]


def _spend(conn: Connection, since: str | None, task_id: str | None, run_id: str | None) -> list[PhaseSpend]:
    """Every agent phase attempt that recorded usage, started at or after ``since`` (an ISO date or time)."""
    where, params = ["p.mode = 'agent'"], {"since": since, "task": task_id, "run": run_id}
    for column, key in (("p.started_at >=", "since"), ("r.task_id =", "task"), ("p.run_id =", "run")):
        if params[key] is not None:
            where.append(f"{column} :{key}")
    rows = conn.execute(
        f"""SELECT p.run_id, r.task_id, r.workflow, p.phase, p.agent, p.model, p.started_at, p.input_tokens,
                   p.output_tokens, p.cost_usd, p.cost_known
            FROM phase_runs p JOIN workflow_runs r ON r.id = p.run_id
            WHERE {' AND '.join(where)}
            ORDER BY p.started_at, p.run_id, p.seq""",
        {k: v for k, v in params.items() if v is not None},
    )
    return [PhaseSpend(run_id=row["run_id"], task_id=row["task_id"], workflow=row["workflow"], phase=row["phase"],
                       agent=row["agent"], model=row["model"], started_at=row["started_at"],
                       input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
                       cost_usd=float(row["cost_usd"]), cost_known=bool(row["cost_known"])) for row in rows]

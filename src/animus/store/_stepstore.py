"""The step-store's rows: runs with their owner epoch, steps with their recorded result (SQL only).

The journal's rules (who may begin or commit, what a second commit does) are the engine's
(``engine/_stepstore.py``); these functions read and write rows, and ``lock`` takes the run row's
lock for the caller's transaction (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises every writer), so a new epoch and a zombie's commit never interleave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from animus.store._db import Connection, _Row
from animus.store._tasks import now_iso

_EPOCH_COUNTER = "stepstore_epoch"


@dataclass(frozen=True)
class StepStoreRun:
    """One run of an outside runner: ``epoch`` is the newest one handed out, the one that owns it."""

    run_id: str
    phase_id: str
    inputs: Any
    epoch: int
    status: str  # open | completed
    output: Any
    error: Any


@dataclass(frozen=True)
class StepStoreStep:
    """One step of a run; ``committed`` once its result (``output`` or ``error``) is recorded."""

    step_id: str
    run_id: str
    phase_id: str
    step_name: str
    idempotency_key: str
    payload: Any
    committed: bool
    failed: bool
    output: Any
    error: Any
    commit_seq: int | None
    committed_epoch: int | None


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _run(row: _Row) -> StepStoreRun:
    return StepStoreRun(
        run_id=row["run_id"], phase_id=row["phase_id"], inputs=_load(row["inputs"]), epoch=int(row["epoch"]),
        status=row["status"], output=_load(row["output"]), error=_load(row["error"]),
    )


def _step(row: _Row) -> StepStoreStep:
    return StepStoreStep(
        step_id=row["step_id"], run_id=row["run_id"], phase_id=row["phase_id"], step_name=row["step_name"],
        idempotency_key=row["idempotency_key"], payload=_load(row["payload"]), committed=row["status"] == "committed",
        failed=bool(row["failed"]), output=_load(row["output"]), error=_load(row["error"]),
        commit_seq=None if row["commit_seq"] is None else int(row["commit_seq"]),
        committed_epoch=None if row["committed_epoch"] is None else int(row["committed_epoch"]),
    )


def _next_epoch(conn: Connection) -> int:
    """The next value of the one epoch counter (call inside a transaction: the counter row is locked)."""
    rows = conn.execute("UPDATE counters SET value = value + 1 WHERE name = :n RETURNING value", {"n": _EPOCH_COUNTER})
    return int(rows[0]["value"])


def _open_run(conn: Connection, run_id: str, phase_id: str, inputs: Any, epoch: int) -> None:
    """Register the run, or re-open it under ``epoch`` (its first inputs are kept)."""
    now = now_iso()
    conn.execute(
        """INSERT INTO stepstore_runs (run_id, phase_id, inputs, epoch, status, created_at, updated_at)
           VALUES (:r, :p, :i, :e, 'open', :now, :now)
           ON CONFLICT (run_id) DO UPDATE SET phase_id = :p, epoch = :e, status = 'open', output = NULL,
               error = NULL, completed_at = NULL, updated_at = :now""",
        {"r": run_id, "p": phase_id, "i": _dump(inputs), "e": epoch, "now": now},
    )


def _get_run(conn: Connection, run_id: str, *, lock: bool = False) -> StepStoreRun | None:
    suffix = " FOR UPDATE" if lock and conn.dialect == "postgresql" else ""
    rows = conn.execute(f"SELECT * FROM stepstore_runs WHERE run_id = :r{suffix}", {"r": run_id})
    return _run(rows[0]) if rows else None


def _complete_run(conn: Connection, run_id: str, *, output: Any, error: Any) -> None:
    conn.execute(
        """UPDATE stepstore_runs SET status = 'completed', output = :o, error = :x, completed_at = :now,
               updated_at = :now WHERE run_id = :r""",
        {"r": run_id, "o": None if error is not None else _dump(output), "x": None if error is None else _dump(error),
         "now": now_iso()},
    )


def _open_runs(conn: Connection, since_epoch: int) -> list[StepStoreRun]:
    rows = conn.execute(
        "SELECT * FROM stepstore_runs WHERE status = 'open' AND epoch >= :e ORDER BY epoch, run_id", {"e": since_epoch}
    )
    return [_run(r) for r in rows]


def _add_step(
    conn: Connection, *, step_id: str, run_id: str, phase_id: str, step_name: str, idempotency_key: str,
    payload: Any, epoch: int,
) -> None:
    """Insert the step unless ``(run_id, idempotency_key)`` has one already (that one stays)."""
    conn.execute(
        """INSERT INTO stepstore_steps (step_id, run_id, phase_id, step_name, idempotency_key, payload, status,
               failed, begun_epoch, begun_at)
           VALUES (:s, :r, :p, :n, :k, :pl, 'begun', 0, :e, :now)
           ON CONFLICT DO NOTHING""",
        {"s": step_id, "r": run_id, "p": phase_id, "n": step_name, "k": idempotency_key, "pl": _dump(payload),
         "e": epoch, "now": now_iso()},
    )


def _get_step(conn: Connection, step_id: str) -> StepStoreStep | None:
    rows = conn.execute("SELECT * FROM stepstore_steps WHERE step_id = :s", {"s": step_id})
    return _step(rows[0]) if rows else None


def _step_by_key(conn: Connection, run_id: str, idempotency_key: str) -> StepStoreStep | None:
    rows = conn.execute(
        "SELECT * FROM stepstore_steps WHERE run_id = :r AND idempotency_key = :k", {"r": run_id, "k": idempotency_key}
    )
    return _step(rows[0]) if rows else None


def _commit_step(conn: Connection, step_id: str, *, output: Any, error: Any, epoch: int) -> bool:
    """Record the step's result unless it has one; whether this call recorded it (call under the run's lock)."""
    rows = conn.execute(
        """UPDATE stepstore_steps SET status = 'committed', failed = :f, output = :o, error = :x,
               committed_epoch = :e, committed_at = :now,
               commit_seq = (SELECT COALESCE(MAX(s2.commit_seq), 0) + 1 FROM stepstore_steps s2
                             WHERE s2.run_id = stepstore_steps.run_id)
           WHERE step_id = :s AND status = 'begun' RETURNING step_id""",
        {"s": step_id, "f": 1 if error is not None else 0, "o": None if error is not None else _dump(output),
         "x": None if error is None else _dump(error), "e": epoch, "now": now_iso()},
    )
    return bool(rows)


def _committed_steps(conn: Connection, run_id: str) -> list[StepStoreStep]:
    rows = conn.execute(
        "SELECT * FROM stepstore_steps WHERE run_id = :r AND status = 'committed' ORDER BY commit_seq", {"r": run_id}
    )
    return [_step(r) for r in rows]

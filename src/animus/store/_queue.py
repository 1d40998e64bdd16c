"""Queue entries (tasks waiting for the daemon) and schedule fires (which cron minutes already fired).

One row per task in ``queue_entries`` (the task id is the key, so a task is never queued twice).
An entry is ``queued`` (waiting), ``held`` (kept back by a user) or ``dispatched`` (a run exists; the
row goes away when that run ends). Dispatch order: ``priority_rank`` (critical first), then
``enqueued_at`` (FIFO within a priority); only entries whose dependencies are all ``done`` qualify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from animus.domain.errors import Conflict, InvalidInput, NotFound
from animus.domain.runs import ACTIVE_RUN_STATUSES, RunStatus
from animus.domain.tasks import TaskStatus
from animus.store._db import Connection, _Row
from animus.store._tasks import _get_task, _record_event, now_iso

_ENTRY_STATUSES: Final = ("queued", "held", "dispatched")
_SOURCES: Final = ("cli", "auto_ready", "schedule", "webhook", "file_watcher", "source", "plugin_trigger")


@dataclass(frozen=True)
class QueueEntry:
    """A task waiting for (or handed to) the daemon."""

    task_id: str
    workflow: str | None
    vars: dict[str, str]
    priority_rank: int
    status: str
    run_id: str | None
    source: str
    enqueued_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "workflow": self.workflow,
            "vars": self.vars,
            "priority_rank": self.priority_rank,
            "status": self.status,
            "run_id": self.run_id,
            "source": self.source,
            "enqueued_at": self.enqueued_at,
            "updated_at": self.updated_at,
        }


def _entry(row: _Row) -> QueueEntry:
    return QueueEntry(
        task_id=row["task_id"],
        workflow=row["workflow"],
        vars=json.loads(row["vars"] or "{}"),
        priority_rank=int(row["priority_rank"]),
        status=row["status"],
        run_id=row["run_id"],
        source=row["source"],
        enqueued_at=row["enqueued_at"],
        updated_at=row["updated_at"],
    )


def _get_entry(conn: Connection, task_id: str) -> QueueEntry | None:
    rows = conn.execute("SELECT * FROM queue_entries WHERE task_id = :t", {"t": task_id})
    return _entry(rows[0]) if rows else None


def _require_entry(conn: Connection, task_id: str) -> QueueEntry:
    entry = _get_entry(conn, task_id)
    if entry is None:
        raise NotFound(f"{task_id} is not in the queue", hint="list it with `animus queue list`")
    return entry


def _list_entries(conn: Connection, *, statuses: tuple[str, ...] = ()) -> list[QueueEntry]:
    """Entries in dispatch order (priority, then FIFO)."""
    where = ""
    if statuses:
        bad = [s for s in statuses if s not in _ENTRY_STATUSES]
        if bad:
            raise InvalidInput(f"invalid queue status {bad[0]!r}; allowed: {', '.join(_ENTRY_STATUSES)}")
        where = " WHERE status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"
    rows = conn.execute(f"SELECT * FROM queue_entries{where} ORDER BY priority_rank, enqueued_at, task_id")
    return [_entry(r) for r in rows]


def _enqueue(
    conn: Connection,
    task_id: str,
    *,
    workflow: str | None = None,
    variables: dict[str, str] | None = None,
    source: str = "cli",
) -> tuple[QueueEntry, bool]:
    """Queue the task (its priority now fixes its place); an entry that exists is returned as is."""
    if source not in _SOURCES:
        raise InvalidInput(f"invalid queue source {source!r}; allowed: {', '.join(_SOURCES)}")
    with conn.transaction():
        task = _get_task(conn, task_id)
        existing = _get_entry(conn, task_id)
        if existing is not None:
            if workflow and existing.workflow and workflow != existing.workflow:
                raise Conflict(f"{task_id} is already queued with workflow {existing.workflow!r}",
                               hint=f"drop it first: `animus queue drop {task_id}`")
            return existing, False
        if task.status.is_terminal:
            raise Conflict(f"{task_id} is {task.status.value}", hint=f"reopen it first: `animus task status {task_id} backlog`")
        stamp = now_iso()
        conn.execute(
            """INSERT INTO queue_entries (task_id, workflow, vars, priority_rank, status, source, enqueued_at, updated_at)
               VALUES (:t, :w, :v, :p, 'queued', :s, :at, :at)""",
            {"t": task_id, "w": workflow, "v": json.dumps(variables or {}, sort_keys=True),
             "p": task.priority.rank, "s": source, "at": stamp},
        )
        _record_event(conn, "queue.enqueued", task_id, {"workflow": workflow, "source": source})
        entry = _get_entry(conn, task_id)
        assert entry is not None
        return entry, True


def _set_held(conn: Connection, task_id: str, held: bool) -> QueueEntry:
    """Hold (``True``) or release a waiting entry; a dispatched one already has its run."""
    with conn.transaction():
        entry = _require_entry(conn, task_id)
        if entry.status == "dispatched":
            raise Conflict(
                f"{task_id} was already dispatched as run {entry.run_id}",
                hint=f"stop it with `animus queue drop {task_id}` (cancels the run)" if held else None,
            )
        target = "held" if held else "queued"
        if entry.status != target:
            conn.execute("UPDATE queue_entries SET status = :s, updated_at = :at WHERE task_id = :t",
                         {"s": target, "at": now_iso(), "t": task_id})
            _record_event(conn, "queue.held" if held else "queue.released", task_id, {})
        return _require_entry(conn, task_id)


def _mark_dispatched(conn: Connection, task_id: str, run_id: str) -> None:
    conn.execute("UPDATE queue_entries SET status = 'dispatched', run_id = :r, updated_at = :at WHERE task_id = :t",
                 {"r": run_id, "at": now_iso(), "t": task_id})


def _add_dispatched(conn: Connection, task_id: str, run_id: str, priority_rank: int, source: str = "cli") -> None:
    """Record a run that is already in flight (adopted at daemon start) as a dispatched entry."""
    stamp = now_iso()
    with conn.transaction():
        if _get_entry(conn, task_id) is not None:
            _mark_dispatched(conn, task_id, run_id)
            return
        conn.execute(
            """INSERT INTO queue_entries (task_id, workflow, vars, priority_rank, status, run_id, source, enqueued_at, updated_at)
               VALUES (:t, NULL, '{}', :p, 'dispatched', :r, :s, :at, :at)""",
            {"t": task_id, "p": priority_rank, "r": run_id, "s": source, "at": stamp},
        )


def _remove_entry(conn: Connection, task_id: str, reason: str) -> bool:
    with conn.transaction():
        if _get_entry(conn, task_id) is None:
            return False
        conn.execute("DELETE FROM queue_entries WHERE task_id = :t", {"t": task_id})
        _record_event(conn, "queue.removed", task_id, {"reason": reason})
        return True


def _dispatchable(conn: Connection, limit: int) -> list[QueueEntry]:
    """Queued entries whose dependencies are all done, in dispatch order."""
    rows = conn.execute(
        """SELECT q.* FROM queue_entries q
           WHERE q.status = 'queued'
             AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks dt ON dt.id = d.depends_on
                             WHERE d.task_id = q.task_id AND dt.status <> 'done')
           ORDER BY q.priority_rank, q.enqueued_at, q.task_id
           LIMIT :n""",
        {"n": limit},
    )
    return [_entry(r) for r in rows]


def _dispatched_with_runs(conn: Connection) -> list[tuple[QueueEntry, str | None]]:
    """Dispatched entries with their run's status (``None`` when the run row is missing)."""
    rows = conn.execute(
        """SELECT q.*, r.status AS run_status FROM queue_entries q
           LEFT JOIN workflow_runs r ON r.id = q.run_id
           WHERE q.status = 'dispatched' ORDER BY q.priority_rank, q.enqueued_at"""
    )
    return [(_entry(r), r["run_status"]) for r in rows]


# a run in one of these keeps its task from being queued again (sorted: the SQL text is stable)
_ACTIVE_OR_COMPLETED: Final = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_RUN_STATUSES | {RunStatus.COMPLETED}))


def _ready_without_runs(conn: Connection) -> list[str]:
    """Ready tasks with no entry and no active or completed run (what ``auto_run_ready`` enqueues)."""
    rows = conn.execute(
        f"""SELECT t.id FROM tasks t
           WHERE t.status = '{TaskStatus.READY.value}'
             AND NOT EXISTS (SELECT 1 FROM queue_entries q WHERE q.task_id = t.id)
             AND NOT EXISTS (SELECT 1 FROM workflow_runs r WHERE r.task_id = t.id
                             AND r.status IN ({_ACTIVE_OR_COMPLETED}))
           ORDER BY t.priority_rank, t.number"""
    )
    return [r["id"] for r in rows]


def _change_marker(conn: Connection) -> tuple[Any, ...]:
    """A cheap fingerprint of queue and run state: when it changes, the dispatcher looks again."""
    rows = conn.execute(
        """SELECT (SELECT COUNT(*) FROM queue_entries) AS n, (SELECT MAX(updated_at) FROM queue_entries) AS q,
                  (SELECT MAX(updated_at) FROM workflow_runs) AS r, (SELECT MAX(updated_at) FROM tasks) AS t"""
    )
    row = rows[0]
    return (row["n"], row["q"], row["r"], row["t"])


# -- schedule fires ---------------------------------------------------------------------------------
def _last_fire(conn: Connection, schedule_id: str) -> str | None:
    """The latest minute (``YYYY-MM-DDTHH:MM``, UTC) this schedule fired for."""
    rows = conn.execute("SELECT MAX(minute) AS m FROM schedule_fires WHERE schedule_id = :s", {"s": schedule_id})
    return rows[0]["m"] if rows else None


def _claim_fire(conn: Connection, schedule_id: str, minute: str) -> bool:
    """Insert the (schedule, minute) row; ``True`` only for the one caller that inserted it.

    Call inside the transaction that acts on the fire, so the claim and the action commit together.
    """
    rows = conn.execute(
        """INSERT INTO schedule_fires (schedule_id, minute, fired_at) VALUES (:s, :m, :at)
           ON CONFLICT (schedule_id, minute) DO NOTHING RETURNING schedule_id""",
        {"s": schedule_id, "m": minute, "at": now_iso()},
    )
    return bool(rows)


def _set_fire_result(conn: Connection, schedule_id: str, minute: str, result: dict[str, Any]) -> None:
    conn.execute("UPDATE schedule_fires SET result = :r WHERE schedule_id = :s AND minute = :m",
                 {"r": json.dumps(result, sort_keys=True), "s": schedule_id, "m": minute})

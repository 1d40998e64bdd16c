"""The fleet: one member row per daemon, heartbeats on the database's clock, run owners and epochs.

Several daemons (on several hosts) share one PostgreSQL database. Each registers a member row and
heartbeats; a live peer declares a member whose heartbeat is older than the lease dead with one
conditional UPDATE, so exactly one peer wins the declaration (DESIGN.md decision 9). Time is the
database's (``_DB_NOW``), never a host's: two hosts whose clocks disagree still agree on who is late.

A run's ``owner`` is the executor running its workflow now; ``owner_epoch`` counts hand-overs. The
engine claims a run when its workflow starts in a process and checks the owner in every transaction
(``run_owner(lock=True)`` takes the row lock on PostgreSQL, so a takeover and a zombie's write
serialise on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from animus.domain.errors import Conflict
from animus.domain.runs import ACTIVE_RUN_STATUSES
from animus.store._db import Connection, _Row
from animus.store._queue import QueueEntry, _entry
from animus.store._tasks import now_iso

MEMBER_STATES: Final = ("alive", "dead", "stopped")
_DB_NOW: Final = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
}
_ACTIVE = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_RUN_STATUSES, key=lambda s: s.value))


@dataclass(frozen=True)
class Member:
    """One daemon of the fleet as its row says (``heartbeat`` in database-clock epoch seconds)."""

    executor_id: str
    project_id: str
    host: str
    pid: int
    clone_path: str
    animus_version: str
    engine_version: str
    pool_size: int
    started_at: str
    heartbeat: float
    state: str
    handed_off: bool
    declared_by: str | None
    declared_at: str | None
    taken_over_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "executor_id": self.executor_id, "project_id": self.project_id, "host": self.host, "pid": self.pid,
            "clone_path": self.clone_path, "animus_version": self.animus_version, "engine_version": self.engine_version,
            "pool_size": self.pool_size, "started_at": self.started_at, "heartbeat": self.heartbeat, "state": self.state,
            "handed_off": self.handed_off, "declared_by": self.declared_by, "declared_at": self.declared_at,
            "taken_over_at": self.taken_over_at,
        }


def _member(row: _Row) -> Member:
    return Member(
        executor_id=row["executor_id"], project_id=row["project_id"], host=row["host"], pid=int(row["pid"]),
        clone_path=row["clone_path"], animus_version=row["animus_version"], engine_version=row["engine_version"],
        pool_size=int(row["pool_size"]), started_at=row["started_at"], heartbeat=float(row["heartbeat"]),
        state=row["state"], handed_off=bool(row["handed_off"]), declared_by=row["declared_by"],
        declared_at=row["declared_at"], taken_over_at=row["taken_over_at"],
    )


def _now_sql(conn: Connection) -> str:
    return _DB_NOW["sqlite" if conn.dialect == "sqlite" else "postgresql"]


def _db_now(conn: Connection) -> float:
    return float(conn.execute(f"SELECT {_now_sql(conn)} AS now")[0]["now"])


def _bind_project(conn: Connection, project_id: str) -> str:
    """Record ``project_id`` as this database's project the first time; return the one recorded."""
    with conn.transaction():
        conn.execute("INSERT INTO meta (key, value) VALUES ('project_id', :v) ON CONFLICT (key) DO NOTHING", {"v": project_id})
        return str(conn.execute("SELECT value FROM meta WHERE key = 'project_id'")[0]["value"])


def _bound_project(conn: Connection) -> str | None:
    rows = conn.execute("SELECT value FROM meta WHERE key = 'project_id'")
    return str(rows[0]["value"]) if rows else None


def _register(conn: Connection, member: dict[str, Any]) -> None:
    """Insert or refresh this daemon's row: alive, heartbeat now, any earlier declaration cleared."""
    params = {**member, "started": now_iso()}
    conn.execute(
        f"""INSERT INTO members (executor_id, project_id, host, pid, clone_path, animus_version, engine_version,
                                 pool_size, started_at, heartbeat, state, handed_off)
            VALUES (:executor_id, :project_id, :host, :pid, :clone_path, :animus_version, :engine_version,
                    :pool_size, :started, {_now_sql(conn)}, 'alive', 0)
            ON CONFLICT (executor_id) DO UPDATE SET project_id = excluded.project_id, host = excluded.host,
                pid = excluded.pid, clone_path = excluded.clone_path, animus_version = excluded.animus_version,
                engine_version = excluded.engine_version, pool_size = excluded.pool_size,
                started_at = excluded.started_at, heartbeat = excluded.heartbeat, state = 'alive', handed_off = 0,
                declared_by = NULL, declared_at = NULL, taken_over_at = NULL""",
        params,
    )


def _heartbeat(conn: Connection, executor_id: str) -> bool:
    """Renew the lease; False when the row is no longer ``alive`` (a peer declared this daemon dead: fenced)."""
    rows = conn.execute(
        f"UPDATE members SET heartbeat = {_now_sql(conn)} WHERE executor_id = :e AND state = 'alive' RETURNING executor_id",
        {"e": executor_id},
    )
    return bool(rows)


def _declare_expired(conn: Connection, by: str, lease_secs: float) -> list[str]:
    """Declare every alive member whose heartbeat is older than the lease dead; the ids this call declared.

    One conditional UPDATE: on PostgreSQL a second peer's UPDATE waits for the first's row lock and
    then finds the row no longer ``alive``, so each member is declared by exactly one peer.
    """
    rows = conn.execute(
        f"""UPDATE members SET state = 'dead', declared_by = :by, declared_at = :at
            WHERE state = 'alive' AND executor_id <> :by AND heartbeat < {_now_sql(conn)} - :lease
            RETURNING executor_id""",
        {"by": by, "at": now_iso(), "lease": float(lease_secs)},
    )
    return sorted(r["executor_id"] for r in rows)


def _mark_stopped(conn: Connection, executor_id: str, *, handed_off: bool) -> None:
    """A clean stop: ``handed_off`` lets peers take its runs over at once, without waiting for the lease."""
    conn.execute(
        "UPDATE members SET state = 'stopped', handed_off = :h, declared_at = :at WHERE executor_id = :e AND state = 'alive'",
        {"e": executor_id, "h": 1 if handed_off else 0, "at": now_iso()},
    )


def _to_take_over(conn: Connection, lease_secs: float) -> list[Member]:
    """Members whose pending workflows a live peer should recover: dead, handed off, or stopped past the lease."""
    rows = conn.execute(
        f"""SELECT * FROM members WHERE taken_over_at IS NULL AND (state = 'dead'
              OR (state = 'stopped' AND (handed_off = 1 OR heartbeat < {_now_sql(conn)} - :lease)))
            ORDER BY executor_id""",
        {"lease": float(lease_secs)},
    )
    return [_member(r) for r in rows]


def _mark_taken_over(conn: Connection, executor_id: str, by: str) -> bool:
    rows = conn.execute(
        """UPDATE members SET taken_over_at = :at, declared_by = COALESCE(declared_by, :by)
           WHERE executor_id = :e AND taken_over_at IS NULL AND state <> 'alive' RETURNING executor_id""",
        {"e": executor_id, "by": by, "at": now_iso()},
    )
    return bool(rows)


def _members(conn: Connection) -> list[Member]:
    return [_member(r) for r in conn.execute("SELECT * FROM members ORDER BY started_at, executor_id")]


def _runs_by_owner(conn: Connection) -> dict[str, list[str]]:
    """Active runs per owner executor (runs no executor has started yet are under ``""``)."""
    out: dict[str, list[str]] = {}
    for row in conn.execute(f"SELECT id, owner FROM workflow_runs WHERE status IN ({_ACTIVE}) ORDER BY id"):
        out.setdefault(row["owner"] or "", []).append(row["id"])
    return out


def _claim_run(conn: Connection, run_id: str, executor_id: str) -> int:
    """Make ``executor_id`` the run's owner (bumping the epoch when the owner changes); the epoch now."""
    with conn.transaction():
        conn.execute(
            """UPDATE workflow_runs SET owner = :e, owner_epoch = owner_epoch + 1, updated_at = :at
               WHERE id = :r AND (owner IS NULL OR owner <> :e)""",
            {"e": executor_id, "r": run_id, "at": now_iso()},
        )
        return _run_owner(conn, run_id)[1]


def _run_owner(conn: Connection, run_id: str, *, lock: bool = False) -> tuple[str | None, int]:
    """The run's owner and epoch; with ``lock`` (inside a transaction) the row stays locked until it ends."""
    suffix = " FOR UPDATE" if lock and conn.dialect == "postgresql" else ""
    rows = conn.execute(f"SELECT owner, owner_epoch FROM workflow_runs WHERE id = :r{suffix}", {"r": run_id})
    if not rows:
        raise Conflict(f"run {run_id} has no row")
    return rows[0]["owner"], int(rows[0]["owner_epoch"] or 0)


def _claim_dispatchable(conn: Connection, limit: int) -> list[QueueEntry]:
    """Like ``dispatchable``, for the caller's transaction: on PostgreSQL the rows stay locked and a
    concurrent daemon skips them (``FOR UPDATE SKIP LOCKED``), so no entry is claimed twice."""
    lock = " FOR UPDATE OF q SKIP LOCKED" if conn.dialect == "postgresql" else ""
    rows = conn.execute(
        f"""SELECT q.* FROM queue_entries q
           WHERE q.status = 'queued'
             AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks dt ON dt.id = d.depends_on
                             WHERE d.task_id = q.task_id AND dt.status <> 'done')
           ORDER BY q.priority_rank, q.enqueued_at, q.task_id
           LIMIT :n{lock}""",
        {"n": limit},
    )
    return [_entry(r) for r in rows]

"""The Store: the one way state is read and written, on SQLite (default) or PostgreSQL by URL."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from animus.domain.errors import AnimusError, InvalidInput
from animus.domain.runs import DecisionRecord, PhaseRun, PhaseSpend, PhaseStatus, RunStatus, WorkflowRun
from animus.domain.tasks import Task, TaskStatus
from animus.store import _fleet, _limits, _outbox, _queue, _runs, _sources, _stepstore, _tasks
from animus.store._db import Connection, SqlAlchemyConnection, SqliteConnection, _sqlite_path_from_url
from animus.store._fleet import Member
from animus.store._limits import ProviderLimit
from animus.store._migrations import _current_version, _migrate
from animus.store._outbox import OutboxItem
from animus.store._queue import QueueEntry
from animus.store._sources import SourceLink, SourceState
from animus.store._stepstore import StepStoreRun, StepStoreStep
from animus.store._tasks import NewTask, TaskPatch, TaskQuery

ENV_DATABASE_URL = "ANIMUS_DATABASE_URL"


class Store:
    """Tasks, runs, the queue, the outbox and trigger hits behind one connection.

    Every method is one transaction (inside ``transaction()`` it joins the caller's); errors are
    animus errors (NotFound, Conflict, InvalidInput, Unavailable, StoreError), never driver exceptions.
    """

    def __init__(self, conn: Connection, url: str) -> None:
        self.conn = conn
        self.url = url

    @property
    def dialect(self) -> str:
        return self.conn.dialect

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Several methods as one transaction (a schedule's claim, task and queue entry commit together)."""
        with self.conn.transaction():
            yield self

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return _current_version(self.conn)

    def migrate(self) -> list[int]:
        return _migrate(self.conn)

    # -- tasks ----------------------------------------------------------------------------------
    def create_task(self, new: NewTask) -> Task:
        return _tasks._create_task(self.conn, new)

    def get_task(self, task_id: str) -> Task:
        return _tasks._get_task(self.conn, task_id)

    def list_tasks(self, query: TaskQuery | None = None) -> list[Task]:
        return _tasks._list_tasks(self.conn, query or TaskQuery())

    def count_by_status(self) -> dict[str, int]:
        return _tasks._count_by_status(self.conn)

    def update_task(self, task_id: str, patch: TaskPatch) -> Task:
        return _tasks._update_task(self.conn, task_id, patch)

    def set_status(self, task_id: str, status: TaskStatus, *, force: bool = False, reason: str | None = None) -> Task:
        return _tasks._set_status(self.conn, task_id, status, force=force, reason=reason)

    def delete_task(self, task_id: str, *, force: bool = False) -> Task:
        return _tasks._delete_task(self.conn, task_id, force=force)

    def next_task(self) -> Task | None:
        return _tasks._next_task(self.conn)

    def add_dependency(self, task_id: str, depends_on: str) -> Task:
        return _tasks._add_dependency(self.conn, task_id, depends_on)

    def remove_dependency(self, task_id: str, depends_on: str) -> Task:
        return _tasks._remove_dependency(self.conn, task_id, depends_on)

    # -- workflow runs -----------------------------------------------------------------------------
    def create_run(self, task_id: str, workflow: str, vars_: dict[str, str] | None = None) -> WorkflowRun:
        return _runs._create_run(self.conn, task_id, workflow, vars_ or {})

    def get_run(self, run_id: str) -> WorkflowRun:
        return _runs._get_run(self.conn, run_id)

    def active_run_for_task(self, task_id: str) -> WorkflowRun | None:
        return _runs._active_run_for_task(self.conn, task_id)

    def list_runs(
        self, *, task_id: str | None = None, statuses: tuple[RunStatus, ...] = (), limit: int = 100
    ) -> list[WorkflowRun]:
        return _runs._list_runs(self.conn, task_id=task_id, statuses=statuses, limit=limit)

    def update_run(self, run_id: str, **fields: Any) -> WorkflowRun:
        return _runs._update_run(self.conn, run_id, **fields)

    def phase_runs(self, run_id: str) -> list[PhaseRun]:
        return _runs._list_phase_runs(self.conn, run_id)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        return _runs._list_decisions(self.conn, run_id)

    def set_run_fields(self, run_id: str, **fields: Any) -> None:
        """Like ``update_run`` without the read-back (the engine's transactions need no copy)."""
        _runs._set_run_fields(self.conn, run_id, **fields)

    def spend(self, *, since: str | None = None, task_id: str | None = None, run_id: str | None = None) -> list[PhaseSpend]:
        """Ended agent phase attempts with what they spent (``since``: an ISO date or time, UTC)."""
        return _runs._spend(self.conn, since, task_id, run_id)

    def record_provider_limit(self, provider: str, resets_at: float, reason: str, run_id: str = "") -> None:
        """Pause ``provider`` until ``resets_at`` (epoch seconds) unless a later reset is recorded already."""
        _limits._record_limit(self.conn, provider, resets_at, reason, run_id)

    def provider_limits(self, now: float) -> list[ProviderLimit]:
        """The providers still paused at ``now``, the soonest reset first."""
        return _limits._active_limits(self.conn, now)

    def add_usage(self, run_id: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        _runs._add_usage(self.conn, run_id, input_tokens, output_tokens, cost_usd)

    def start_phase(self, run_id: str, phase: str, attempt: int, mode: str, status: PhaseStatus) -> int:
        """A new phase-run row; returns its ``seq``."""
        return _runs._start_phase(self.conn, run_id, phase, attempt, mode, status)

    def update_phase(self, run_id: str, seq: int, **fields: Any) -> None:
        _runs._update_phase(self.conn, run_id, seq, **fields)

    def add_decision(self, record: DecisionRecord) -> int:
        """Record a decision (its ``seq`` is assigned here); returns that seq."""
        return _runs._add_decision(self.conn, record)

    def journal_status(self, dbos_workflow_id: str) -> str | None:
        """DBOS's status of a workflow (its system tables share this database); None when it has no record."""
        table = "workflow_status" if self.dialect == "sqlite" else "dbos.workflow_status"
        try:
            rows = self.conn.execute(f"SELECT status FROM {table} WHERE workflow_uuid = :w", {"w": dbos_workflow_id})
        except AnimusError:
            return None  # DBOS never ran against this database: no journal yet
        return str(rows[0]["status"]) if rows else None

    # -- events ---------------------------------------------------------------------------------
    def events(self, after_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return self.conn.execute(
            "SELECT seq, at, kind, subject, data FROM events WHERE seq > :after ORDER BY seq LIMIT :limit",
            {"after": after_seq, "limit": limit},
        )

    def last_event_seq(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) AS s FROM events")[0]["s"])

    # -- the queue (see animus.store._queue) ---------------------------------------------------------
    def queue_entry(self, task_id: str) -> QueueEntry | None:
        return _queue._get_entry(self.conn, task_id)

    def require_queue_entry(self, task_id: str) -> QueueEntry:
        return _queue._require_entry(self.conn, task_id)

    def queue_entries(self, *, statuses: tuple[str, ...] = ()) -> list[QueueEntry]:
        """Entries in dispatch order (priority, then FIFO)."""
        return _queue._list_entries(self.conn, statuses=statuses)

    def enqueue(
        self, task_id: str, *, workflow: str | None = None, variables: dict[str, str] | None = None, source: str = "cli"
    ) -> tuple[QueueEntry, bool]:
        """Queue the task; an entry that exists is returned as is (``created`` False)."""
        return _queue._enqueue(self.conn, task_id, workflow=workflow, variables=variables, source=source)

    def set_held(self, task_id: str, held: bool) -> QueueEntry:
        return _queue._set_held(self.conn, task_id, held)

    def mark_dispatched(self, task_id: str, run_id: str) -> None:
        _queue._mark_dispatched(self.conn, task_id, run_id)

    def add_dispatched(self, task_id: str, run_id: str, priority_rank: int, source: str = "cli") -> None:
        _queue._add_dispatched(self.conn, task_id, run_id, priority_rank, source)

    def remove_queue_entry(self, task_id: str, reason: str) -> bool:
        return _queue._remove_entry(self.conn, task_id, reason)

    def dispatchable(self, limit: int) -> list[QueueEntry]:
        return _queue._dispatchable(self.conn, limit)

    def dispatched_with_runs(self) -> list[tuple[QueueEntry, str | None]]:
        return _queue._dispatched_with_runs(self.conn)

    def ready_without_runs(self) -> list[str]:
        return _queue._ready_without_runs(self.conn)

    def change_marker(self) -> tuple[Any, ...]:
        return _queue._change_marker(self.conn)

    # -- the fleet (see animus.store._fleet) -----------------------------------------------------------
    def db_now(self) -> float:
        """The database's clock (epoch seconds): what heartbeats and leases are measured on."""
        return _fleet._db_now(self.conn)

    def bind_project(self, project_id: str) -> str:
        """Record the project this database serves the first time; the id recorded (compare it with yours)."""
        return _fleet._bind_project(self.conn, project_id)

    def bound_project(self) -> str | None:
        return _fleet._bound_project(self.conn)

    def register_member(self, **member: Any) -> None:
        _fleet._register(self.conn, member)

    def heartbeat(self, executor_id: str) -> bool:
        return _fleet._heartbeat(self.conn, executor_id)

    def declare_expired(self, by: str, lease_secs: float) -> list[str]:
        return _fleet._declare_expired(self.conn, by, lease_secs)

    def mark_member_stopped(self, executor_id: str, *, handed_off: bool) -> None:
        _fleet._mark_stopped(self.conn, executor_id, handed_off=handed_off)

    def members_to_take_over(self, lease_secs: float) -> list[Member]:
        return _fleet._to_take_over(self.conn, lease_secs)

    def mark_taken_over(self, executor_id: str, by: str) -> bool:
        return _fleet._mark_taken_over(self.conn, executor_id, by)

    def members(self) -> list[Member]:
        return _fleet._members(self.conn)

    def runs_by_owner(self) -> dict[str, list[str]]:
        return _fleet._runs_by_owner(self.conn)

    def claim_run(self, run_id: str, executor_id: str) -> int:
        return _fleet._claim_run(self.conn, run_id, executor_id)

    def run_owner(self, run_id: str, *, lock: bool = False) -> tuple[str | None, int]:
        return _fleet._run_owner(self.conn, run_id, lock=lock)

    def claim_dispatchable(self, limit: int) -> list[QueueEntry]:
        """Call inside ``transaction()``: the claimed entries stay locked (PostgreSQL) until it commits."""
        return _fleet._claim_dispatchable(self.conn, limit)

    # -- the step-store (see animus.store._stepstore; its rules are the engine's) ---------------------
    def next_stepstore_epoch(self) -> int:
        """Call inside ``transaction()``: the counter row stays locked until it commits."""
        return _stepstore._next_epoch(self.conn)

    def open_stepstore_run(self, run_id: str, phase_id: str, inputs: Any, epoch: int) -> None:
        _stepstore._open_run(self.conn, run_id, phase_id, inputs, epoch)

    def stepstore_run(self, run_id: str, *, lock: bool = False) -> StepStoreRun | None:
        return _stepstore._get_run(self.conn, run_id, lock=lock)

    def complete_stepstore_run(self, run_id: str, *, output: Any, error: Any) -> None:
        _stepstore._complete_run(self.conn, run_id, output=output, error=error)

    def open_stepstore_runs(self, since_epoch: int) -> list[StepStoreRun]:
        return _stepstore._open_runs(self.conn, since_epoch)

    def add_stepstore_step(
        self, *, step_id: str, run_id: str, phase_id: str, step_name: str, idempotency_key: str, payload: Any,
        epoch: int,
    ) -> None:
        _stepstore._add_step(self.conn, step_id=step_id, run_id=run_id, phase_id=phase_id, step_name=step_name,
                             idempotency_key=idempotency_key, payload=payload, epoch=epoch)

    def stepstore_step(self, step_id: str) -> StepStoreStep | None:
        return _stepstore._get_step(self.conn, step_id)

    def stepstore_step_by_key(self, run_id: str, idempotency_key: str) -> StepStoreStep | None:
        return _stepstore._step_by_key(self.conn, run_id, idempotency_key)

    def commit_stepstore_step(self, step_id: str, *, output: Any, error: Any, epoch: int) -> bool:
        return _stepstore._commit_step(self.conn, step_id, output=output, error=error, epoch=epoch)

    def committed_stepstore_steps(self, run_id: str) -> list[StepStoreStep]:
        return _stepstore._committed_steps(self.conn, run_id)

    # -- task sources (see animus.store._sources) ------------------------------------------------------
    def claim_source_item(self, source_id: str, external_id: str, task_id: str, **fields: Any) -> bool:
        return _sources._claim_link(self.conn, source_id, external_id, task_id, **fields)

    def source_item(self, source_id: str, external_id: str) -> SourceLink | None:
        return _sources._get_link(self.conn, source_id, external_id)

    def source_item_for_task(self, task_id: str) -> SourceLink | None:
        return _sources._link_for_task(self.conn, task_id)

    def source_items(self, source_id: str) -> list[SourceLink]:
        return _sources._links(self.conn, source_id)

    def update_source_item(self, source_id: str, external_id: str, **fields: Any) -> None:
        _sources._update_link(self.conn, source_id, external_id, **fields)

    def source_state(self, source_id: str) -> SourceState:
        return _sources._get_state(self.conn, source_id)

    def save_source_state(self, state: SourceState) -> None:
        _sources._save_state(self.conn, state)

    def source_item_counts(self) -> dict[str, int]:
        return _sources._link_counts(self.conn)

    def try_sources_lock(self) -> bool:
        """Whether this connection is (now) the fleet's one source syncer; hold the connection to keep it."""
        return _sources._try_sources_lock(self.conn)

    # -- schedule fires -----------------------------------------------------------------------------
    def last_fire(self, schedule_id: str) -> str | None:
        return _queue._last_fire(self.conn, schedule_id)

    def claim_fire(self, schedule_id: str, minute: str) -> bool:
        """Call inside ``transaction()`` with what the fire does, so the claim and the action commit together."""
        return _queue._claim_fire(self.conn, schedule_id, minute)

    def set_fire_result(self, schedule_id: str, minute: str, result: dict[str, Any]) -> None:
        _queue._set_fire_result(self.conn, schedule_id, minute, result)

    # -- the notification outbox (see animus.store._outbox) ------------------------------------------
    def outbox_scan_cursor(self, cursor: str = _outbox.NOTIFY_CURSOR) -> int:
        return _outbox._scan_cursor(self.conn, cursor)

    def add_outbox(self, items: Iterable[OutboxItem], *, scanned_to: int, now: str, cursor: str = _outbox.NOTIFY_CURSOR) -> int:
        return _outbox._add_outbox(self.conn, items, scanned_to=scanned_to, now=now, cursor=cursor)

    def due_outbox(self, now: str, limit: int = 100, *, sources: bool = False) -> list[OutboxItem]:
        """Due rows of the notifiers (default) or of the task sources (``sources=True``: notifier ``source:<id>``)."""
        return _outbox._due_outbox(self.conn, now, limit, sources=sources)

    def mark_outbox_delivered(self, item_id: str, *, attempts: int, now: str) -> None:
        _outbox._mark_delivered(self.conn, item_id, attempts=attempts, now=now)

    def mark_outbox_failed(self, item_id: str, *, attempts: int, error: str, next_attempt_at: str, dead: bool) -> None:
        _outbox._mark_failed(self.conn, item_id, attempts=attempts, error=error, next_attempt_at=next_attempt_at, dead=dead)

    def outbox_summary(self) -> dict[str, Any]:
        return _outbox.outbox_summary(self)

    def pending_outbox_by_notifier(self, prefix: str = "") -> dict[str, int]:
        return _outbox._pending_by_notifier(self.conn, prefix)

    # -- webhook trigger hits --------------------------------------------------------------------------
    def record_trigger_hit(self, trigger_id: str, outcome: str, detail: str = "") -> None:
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO trigger_hits (trigger_id, at, outcome, detail) VALUES (:t, :at, :o, :d)",
                {"t": trigger_id, "at": _tasks.now_iso(), "o": outcome, "d": detail[:1000]},
            )
            self.conn.execute("DELETE FROM trigger_hits WHERE trigger_id = :t AND at < :cutoff",
                              {"t": trigger_id, "cutoff": _ago(TRIGGER_HIT_RETENTION)})

    def admit_trigger_hit(
        self, trigger_id: str, *, limit: int, window: timedelta = timedelta(minutes=1), delivery: str | None = None
    ) -> TriggerAdmission:
        """Admit one webhook call, or say why not: one transaction, so concurrent callers cannot race past ``limit``.

        ``admitted`` records a hit the limit counts (at most ``limit`` per ``window``) and remembers
        ``delivery`` (a GitHub delivery id, a signature digest); a delivery seen before is ``replayed``,
        a full window ``rate_limited`` (both recorded, neither counted). Inside a caller's
        ``transaction()`` the admission rolls back with it, so a call that then fails is not counted.
        Hits older than a day and deliveries older than a week are pruned here.
        """
        now = _tasks.now_iso()
        params: dict[str, Any] = {"t": trigger_id, "at": now, "delivery": delivery or "", "lock": f"trigger:{trigger_id}"}
        with self.conn.transaction():
            # a per-trigger row lock serialises admissions on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)
            self.conn.execute("INSERT INTO counters (name, value) VALUES (:lock, 1) "
                              "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1", params)
            self.conn.execute("DELETE FROM trigger_hits WHERE trigger_id = :t AND at < :cutoff",
                              {"t": trigger_id, "cutoff": _ago(TRIGGER_HIT_RETENTION)})
            self.conn.execute("DELETE FROM trigger_deliveries WHERE trigger_id = :t AND at < :cutoff",
                              {"t": trigger_id, "cutoff": _ago(TRIGGER_DELIVERY_RETENTION)})
            verdict: TriggerAdmission = "admitted"
            if delivery and self.conn.execute(
                "SELECT 1 AS x FROM trigger_deliveries WHERE trigger_id = :t AND delivery = :delivery", params
            ):
                verdict = "replayed"
            elif self.count_trigger_hits(trigger_id, since=_ago(window), outcomes=TRIGGER_COUNTED_OUTCOMES) >= limit:
                verdict = "rate_limited"
            elif delivery:
                self.conn.execute("INSERT INTO trigger_deliveries (trigger_id, delivery, at) VALUES (:t, :delivery, :at)",
                                  params)
            self.conn.execute("INSERT INTO trigger_hits (trigger_id, at, outcome, detail) VALUES (:t, :at, :o, :d)",
                              {**params, "o": verdict, "d": (delivery or "")[:1000]})
        return verdict

    def settle_trigger_hit(self, trigger_id: str, outcome: str, detail: str = "") -> None:
        """Give the admission just made (in the caller's transaction) its outcome: created, ignored, duplicate, woke."""
        self.conn.execute(
            "UPDATE trigger_hits SET outcome = :o, detail = :d WHERE trigger_id = :t AND outcome = 'admitted'"
            " AND at = (SELECT MAX(at) FROM trigger_hits WHERE trigger_id = :t AND outcome = 'admitted')",
            {"t": trigger_id, "o": outcome, "d": detail[:1000]},
        )

    def count_trigger_hits(self, trigger_id: str, *, since: str, outcomes: tuple[str, ...]) -> int:
        """Hits of ``trigger_id`` after ``since`` (ISO time) with one of ``outcomes`` (the rate limit counts TRIGGER_COUNTED_OUTCOMES)."""
        params: dict[str, Any] = {"t": trigger_id, "since": since}
        names = []
        for i, outcome in enumerate(outcomes):
            params[f"o{i}"] = outcome
            names.append(f":o{i}")
        rows = self.conn.execute(
            "SELECT COUNT(*) AS n FROM trigger_hits WHERE trigger_id = :t AND at > :since"
            f" AND outcome IN ({', '.join(names) or 'NULL'})",
            params,
        )
        return int(rows[0]["n"])


TriggerAdmission = Literal["admitted", "replayed", "rate_limited"]
TRIGGER_COUNTED_OUTCOMES = ("admitted", "created", "ignored", "duplicate", "woke")  # refusals are not counted
TRIGGER_HIT_RETENTION = timedelta(days=1)
TRIGGER_DELIVERY_RETENTION = timedelta(days=7)  # GitHub deliveries carry no timestamp: remember them longer


def _ago(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).isoformat(timespec="microseconds")


def database_url(db_path: Path | None = None) -> str:
    """``ANIMUS_DATABASE_URL`` if set, else the SQLite file ``db_path`` (the project's state dir)."""
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        return url
    if db_path is None:
        raise InvalidInput(f"no database: set {ENV_DATABASE_URL} or run inside a project")
    return f"sqlite:///{db_path}"


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and `doctor`."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"


def open_store(
    url: str | None = None,
    *,
    db_path: Path | None = None,
    driver: str = "auto",
    schema: str | None = None,
    auto_migrate: bool = True,
) -> Store:
    """Open (and, unless told otherwise, migrate) the store.

    ``driver``: ``auto`` (stdlib sqlite3 for SQLite, SQLAlchemy otherwise) or ``sqlalchemy``.
    ``schema``: PostgreSQL schema to use (tests isolate themselves this way).
    """
    url = url or database_url(db_path)
    conn: Connection
    if url.startswith("sqlite:") and driver == "auto":
        conn = SqliteConnection(_sqlite_path_from_url(url))
    elif url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        conn = SqlAlchemyConnection(url, schema=schema)
    else:
        raise InvalidInput(
            f"unsupported database URL {redact_url(url)!r}; use sqlite:////path/animus.db or postgresql://user@host/db"
        )
    store = Store(conn, url)
    if auto_migrate:
        _migrate(conn)  # it applies whatever version is missing, not only ones above the highest (a gap is filled)
    return store

"""Versioned schema migrations, applied automatically and exactly once per database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from animus.store._db import Connection


@dataclass(frozen=True)
class _Migration:
    version: int
    name: str
    statements: tuple[str, ...]  # portable SQL, or per-dialect via the mapping below
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()

    def for_dialect(self, dialect: str) -> tuple[str, ...]:
        extra = self.sqlite if dialect == "sqlite" else self.postgresql
        return self.statements + extra


MIGRATIONS: tuple[_Migration, ...] = (
    _Migration(
        1,
        "tasks",
        (
            """CREATE TABLE counters (
                name TEXT PRIMARY KEY,
                value BIGINT NOT NULL
            )""",
            """CREATE TABLE tasks (
                id TEXT PRIMARY KEY,
                number BIGINT NOT NULL UNIQUE,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                type TEXT NOT NULL,
                priority TEXT NOT NULL,
                priority_rank INTEGER NOT NULL,
                status TEXT NOT NULL,
                workflow TEXT,
                blocked_reason TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX tasks_status_rank ON tasks (status, priority_rank, number)",
            """CREATE TABLE task_labels (
                task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                label TEXT NOT NULL,
                PRIMARY KEY (task_id, label)
            )""",
            "CREATE INDEX task_labels_label ON task_labels (label)",
            """CREATE TABLE task_deps (
                task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                depends_on TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                PRIMARY KEY (task_id, depends_on)
            )""",
            "CREATE INDEX task_deps_depends_on ON task_deps (depends_on)",
            "INSERT INTO counters (name, value) VALUES ('task', 0)",
        ),
        sqlite=(
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
        ),
        postgresql=(
            """CREATE TABLE events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    _Migration(
        2,
        "workflow runs",
        (
            """CREATE TABLE workflow_runs (
                id TEXT PRIMARY KEY,
                task_id TEXT NOT NULL REFERENCES tasks (id),
                workflow TEXT NOT NULL,
                generation INTEGER NOT NULL DEFAULT 1,
                status TEXT NOT NULL,
                phase_index INTEGER NOT NULL DEFAULT 0,
                current_phase TEXT,
                branch TEXT,
                worktree TEXT,
                base_sha TEXT,
                vars TEXT NOT NULL DEFAULT '{}',
                plan TEXT,
                state TEXT NOT NULL DEFAULT '{}',
                failure_reason TEXT,
                landed_sha TEXT,
                pr_url TEXT,
                input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0,
                cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                started_at TEXT,
                ended_at TEXT,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX workflow_runs_task ON workflow_runs (task_id, status)",
            "CREATE INDEX workflow_runs_status ON workflow_runs (status)",
            """CREATE TABLE phase_runs (
                run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                phase TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                mode TEXT NOT NULL,
                status TEXT NOT NULL,
                agent_run_id TEXT,
                commit_sha TEXT,
                input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0,
                cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
                output_excerpt TEXT,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                PRIMARY KEY (run_id, seq)
            )""",
            """CREATE TABLE decisions (
                run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                phase TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                source TEXT NOT NULL,
                verdict TEXT NOT NULL,
                effective TEXT NOT NULL,
                target_phase TEXT,
                confidence DOUBLE PRECISION,
                risk TEXT,
                reason TEXT NOT NULL,
                evidence TEXT NOT NULL DEFAULT '[]',
                at TEXT NOT NULL,
                PRIMARY KEY (run_id, seq)
            )""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    _Migration(
        3,
        "queue and schedules",
        (
            """CREATE TABLE queue_entries (
                task_id TEXT PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
                workflow TEXT,
                vars TEXT NOT NULL DEFAULT '{}',
                priority_rank INTEGER NOT NULL,
                status TEXT NOT NULL,
                run_id TEXT,
                source TEXT NOT NULL DEFAULT 'cli',
                enqueued_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX queue_entries_order ON queue_entries (status, priority_rank, enqueued_at)",
            """CREATE TABLE schedule_fires (
                schedule_id TEXT NOT NULL,
                minute TEXT NOT NULL,
                fired_at TEXT NOT NULL,
                result TEXT,
                PRIMARY KEY (schedule_id, minute)
            )""",
        ),
    ),
    _Migration(
        4,
        "notification outbox and trigger hits",
        (
            """CREATE TABLE outbox (
                id TEXT PRIMARY KEY,
                notifier TEXT NOT NULL,
                event TEXT NOT NULL,
                payload TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT,
                created_at TEXT NOT NULL,
                delivered_at TEXT
            )""",
            "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
            """CREATE TABLE trigger_hits (
                trigger_id TEXT NOT NULL,
                at TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT
            )""",
            "CREATE INDEX trigger_hits_recent ON trigger_hits (trigger_id, at)",
        ),
    ),
    _Migration(
        5,
        "webhook deliveries remembered against replays",
        (
            """CREATE TABLE trigger_deliveries (
                trigger_id TEXT NOT NULL,
                delivery TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (trigger_id, delivery)
            )""",
            "CREATE INDEX trigger_deliveries_age ON trigger_deliveries (trigger_id, at)",
        ),
    ),
    _Migration(
        6,
        "fleet: members, run owners and epochs, the project's identity",
        (
            """CREATE TABLE members (
                executor_id TEXT PRIMARY KEY,
                project_id TEXT NOT NULL,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                clone_path TEXT NOT NULL,
                animus_version TEXT NOT NULL,
                engine_version TEXT NOT NULL,
                pool_size INTEGER NOT NULL,
                started_at TEXT NOT NULL,
                heartbeat DOUBLE PRECISION NOT NULL,
                state TEXT NOT NULL,
                handed_off INTEGER NOT NULL DEFAULT 0,
                declared_by TEXT,
                declared_at TEXT,
                taken_over_at TEXT
            )""",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "ALTER TABLE workflow_runs ADD COLUMN owner TEXT",
            "ALTER TABLE workflow_runs ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX workflow_runs_owner ON workflow_runs (owner, status)",
        ),
    ),
    _Migration(
        7,
        "task sources",
        (
            # one row per upstream item: the primary key is what makes an item become exactly one task
            """CREATE TABLE source_items (
                source_id TEXT NOT NULL,
                external_id TEXT NOT NULL,
                task_id TEXT NOT NULL UNIQUE,
                key TEXT NOT NULL DEFAULT '',
                url TEXT NOT NULL DEFAULT '',
                fingerprint TEXT NOT NULL DEFAULT '',
                upstream_open INTEGER NOT NULL DEFAULT 1,
                upstream_updated_at TEXT NOT NULL DEFAULT '',
                data TEXT NOT NULL DEFAULT '{}',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (source_id, external_id)
            )""",
            """CREATE TABLE source_state (
                source_id TEXT PRIMARY KEY,
                cursor TEXT,
                last_sync_at TEXT,
                last_ok_at TEXT,
                last_error TEXT,
                errors_in_a_row INTEGER NOT NULL DEFAULT 0,
                next_poll_at TEXT NOT NULL DEFAULT '',
                imported INTEGER NOT NULL DEFAULT 0,
                updated INTEGER NOT NULL DEFAULT 0,
                cancelled INTEGER NOT NULL DEFAULT 0,
                problems TEXT NOT NULL DEFAULT '[]'
            )""",
        ),
    ),
)

MIGRATIONS += (
    _Migration(
        8,
        "step-store: outside runners' runs with their owner epoch, and their steps",
        (
            # the newest epoch handed out to any run; each begin_workflow_run takes the next one
            "INSERT INTO counters (name, value) VALUES ('stepstore_epoch', 0)",
            """CREATE TABLE stepstore_runs (
                run_id TEXT PRIMARY KEY,
                phase_id TEXT NOT NULL,
                inputs TEXT NOT NULL DEFAULT 'null',
                epoch BIGINT NOT NULL,
                status TEXT NOT NULL,
                output TEXT,
                error TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                completed_at TEXT
            )""",
            "CREATE INDEX stepstore_runs_open ON stepstore_runs (status, epoch)",
            # (run_id, idempotency_key) is what makes a key one step, however many clients race on it
            """CREATE TABLE stepstore_steps (
                step_id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES stepstore_runs (run_id) ON DELETE CASCADE,
                phase_id TEXT NOT NULL,
                step_name TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                payload TEXT NOT NULL DEFAULT 'null',
                status TEXT NOT NULL,
                failed INTEGER NOT NULL DEFAULT 0,
                output TEXT,
                error TEXT,
                begun_epoch BIGINT NOT NULL,
                committed_epoch BIGINT,
                commit_seq BIGINT,
                begun_at TEXT NOT NULL,
                committed_at TEXT,
                UNIQUE (run_id, idempotency_key)
            )""",
            "CREATE INDEX stepstore_steps_committed ON stepstore_steps (run_id, commit_seq)",
        ),
    ),
)

# Version 9, not 8: another change numbers the step-store's migration 8. Versions are applied by set
# (every one not yet recorded, in order), so either may land first and a gap is no placeholder.
MIGRATIONS += (
    _Migration(
        9,
        "spend: which agent and model each phase ran on, unknown costs, provider pauses",
        (
            "ALTER TABLE phase_runs ADD COLUMN agent TEXT",
            "ALTER TABLE phase_runs ADD COLUMN model TEXT",
            # 0: the phase's tokens (some of them) had no price; cost_usd is then what could be priced
            "ALTER TABLE phase_runs ADD COLUMN cost_known INTEGER NOT NULL DEFAULT 1",
            "CREATE INDEX phase_runs_started ON phase_runs (started_at)",
            # one row per provider key: the later reset wins (store/_limits.py)
            """CREATE TABLE provider_limits (
                provider TEXT PRIMARY KEY,
                resets_at DOUBLE PRECISION NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                run_id TEXT NOT NULL DEFAULT '',
                recorded_at TEXT NOT NULL
            )""",
        ),
    ),
)
MIGRATIONS = tuple(sorted(MIGRATIONS, key=lambda m: m.version))
LATEST_VERSION = MIGRATIONS[-1].version

_CREATE_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def _current_version(conn: Connection) -> int:
    """The highest applied migration, or 0 for a database animus has never touched."""
    if conn.dialect == "sqlite":
        exists = conn.execute("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    else:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS x")
        exists = exists if exists and exists[0]["x"] else []
    if not exists:
        return 0
    rows = conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
    return int(rows[0]["v"])


def _applied_versions(conn: Connection) -> set[int]:
    if _current_version(conn) == 0:
        return set()
    return {int(row["version"]) for row in conn.execute("SELECT version FROM schema_migrations")}


def _migrate(conn: Connection) -> list[int]:
    """Apply every pending migration, each in its own transaction; returns the versions applied.

    Concurrent processes serialise on the write lock (SQLite BEGIN IMMEDIATE) or an advisory lock
    (PostgreSQL) and re-check the version inside it, so each migration runs exactly once.
    """
    wanted = {m.version for m in MIGRATIONS}
    if wanted <= _applied_versions(conn):
        return []
    applied: list[int] = []
    with conn.transaction():
        if conn.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(4177001)")
        conn.execute(_CREATE_VERSIONS)
        done = _applied_versions(conn)
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            for statement in migration.for_dialect(conn.dialect):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :at)",
                {"v": migration.version, "n": migration.name, "at": datetime.now(UTC).isoformat()},
            )
            applied.append(migration.version)
    return applied

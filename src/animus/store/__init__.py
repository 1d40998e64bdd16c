"""The database: tasks and runs, on SQLite (WAL) by default or PostgreSQL by URL; nothing else writes state.

Example::

    from animus.store import NewTask, open_store
    with open_store("sqlite:////tmp/animus.db") as store:
        task = store.create_task(NewTask(title="Fix the login redirect"))
"""

from animus.store import _outbox as outbox
from animus.store import _queue as queue
from animus.store import _runs as runs
from animus.store import _tasks as tasks
from animus.store._db import Connection, SessionConnection, SqlAlchemyConnection, SqliteConnection, sqlite_engine
from animus.store._fleet import MEMBER_STATES, Member
from animus.store._limits import ProviderLimit
from animus.store._migrations import LATEST_VERSION, MIGRATIONS
from animus.store._outbox import (
    NOTIFY_CURSOR,
    OUTBOX_STATUSES,
    SOURCE_CURSOR,
    SOURCE_NOTIFIER_PREFIX,
    OutboxItem,
    outbox_summary,
)
from animus.store._queue import QueueEntry
from animus.store._sources import SourceLink, SourceState
from animus.store._stepstore import StepStoreRun, StepStoreStep
from animus.store._store import (
    ENV_DATABASE_URL,
    TRIGGER_COUNTED_OUTCOMES,
    TRIGGER_DELIVERY_RETENTION,
    TRIGGER_HIT_RETENTION,
    Store,
    TriggerAdmission,
    database_url,
    open_store,
    redact_url,
)
from animus.store._tasks import SORT_KEYS, NewTask, TaskPatch, TaskQuery, now_iso

__all__ = [
    "ENV_DATABASE_URL",
    "LATEST_VERSION",
    "MEMBER_STATES",
    "MIGRATIONS",
    "NOTIFY_CURSOR",
    "OUTBOX_STATUSES",
    "SORT_KEYS",
    "SOURCE_CURSOR",
    "SOURCE_NOTIFIER_PREFIX",
    "TRIGGER_COUNTED_OUTCOMES",
    "TRIGGER_DELIVERY_RETENTION",
    "TRIGGER_HIT_RETENTION",
    "Connection",
    "Member",
    "NewTask",
    "OutboxItem",
    "ProviderLimit",
    "QueueEntry",
    "SessionConnection",
    "SourceLink",
    "SourceState",
    "SqlAlchemyConnection",
    "SqliteConnection",
    "StepStoreRun",
    "StepStoreStep",
    "Store",
    "TaskPatch",
    "TaskQuery",
    "TriggerAdmission",
    "database_url",
    "now_iso",
    "open_store",
    "outbox",
    "outbox_summary",
    "queue",
    "redact_url",
    "runs",
    "sqlite_engine",
    "tasks",
]

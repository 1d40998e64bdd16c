from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from animus.store import LATEST_VERSION, NewTask, open_store
from animus.store._migrations import MIGRATIONS
from store.conftest import make_store


def test_migrations_apply_once_and_reopen_keeps_data(backend: str, tmp_path: Path) -> None:
    store, url, schema = make_store(backend, tmp_path)
    try:
        assert store.schema_version() == LATEST_VERSION
        store.create_task(NewTask(title="kept"))
        assert store.migrate() == []
        rows = store.conn.execute("SELECT version FROM schema_migrations")
        assert sorted(r["version"] for r in rows) == [m.version for m in MIGRATIONS]
        again = open_store(url, schema=schema) if schema else open_store(url)
        assert [t.title for t in again.list_tasks()] == ["kept"]
        again.close()
    finally:
        if schema:
            store.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        store.close()


def test_a_migration_numbered_below_one_already_applied_is_still_applied(tmp_path: Path) -> None:
    # two changes number their migrations in parallel (8 and 9): whichever lands second must still run
    url = f"sqlite:///{tmp_path / 'animus.db'}"
    store = open_store(url)
    store.conn.execute("DROP TABLE source_state")
    store.conn.execute("DROP TABLE source_items")
    store.conn.execute("DELETE FROM schema_migrations WHERE version = 7")
    store.close()
    again = open_store(url)
    try:
        assert sorted(r["version"] for r in again.conn.execute("SELECT version FROM schema_migrations")) == [
            m.version for m in MIGRATIONS]
        assert again.conn.execute("SELECT COUNT(*) AS n FROM source_items")[0]["n"] == 0
    finally:
        again.close()


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    assert store.conn.execute("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    store.close()


CREATE_MANY = """
import sys
from animus.store import NewTask, open_store
url, schema, n = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
store = open_store(url, schema=schema) if schema else open_store(url)
print(",".join(store.create_task(NewTask(title=f"t{i}")).id for i in range(n)))
"""


def test_concurrent_processes_migrate_once_and_never_share_an_id(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite-sqlalchemy":
        backend = "sqlite"
    store, url, schema = make_store(backend, tmp_path)
    if schema is None:
        store.close()
        (tmp_path / "animus.db").unlink()  # let the racing processes create and migrate it themselves
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", CREATE_MANY, url, schema or "", "40"], stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0]
        ids = [i for out in outputs for i in out.strip().split(",")]
        assert len(ids) == 120 and len(set(ids)) == 120
        check = open_store(url, schema=schema) if schema else open_store(url)
        assert len(check.conn.execute("SELECT version FROM schema_migrations")) == len(MIGRATIONS)
        check.close()
    finally:
        if schema:
            store.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            store.close()

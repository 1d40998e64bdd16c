"""Suite-wide fixtures: isolated ANIMUS_HOME, real git repos, database backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.pg import fresh_schema, require_pg
from support.repo import make_repo


@pytest.fixture(autouse=True)
def animus_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ANIMUS_HOME and no inherited project/database overrides."""
    home = tmp_path / "animus-home"
    monkeypatch.setenv("ANIMUS_HOME", str(home))
    monkeypatch.delenv("ANIMUS_PROJECT_ROOT", raising=False)
    monkeypatch.delenv("ANIMUS_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repo with one commit on `main`."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL plus a fresh schema name, dropped afterwards."""
    yield require_pg()


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    schema = fresh_schema()
    yield schema
    import sqlalchemy as sa

    engine = sa.create_engine("postgresql+psycopg://" + pg_url.split("://", 1)[1])
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def pg_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL database of this test's own, set as ANIMUS_DATABASE_URL (DBOS's `dbos` schema is fixed)."""
    import sqlalchemy as sa

    base = require_pg()
    name = f"animus_engine_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine("postgresql+psycopg://" + base.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("ANIMUS_DATABASE_URL", url)  # the harness's store and every animus process use it
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# The longest tests, started first: the two workers then share the rest, instead of one worker
# finishing the list while the other still runs a chaos test that came late (the suite's wall time).
_LONG_FIRST = ("test_chaos.py::test_chaos_hundred_sigkills", "test_chaos.py::", "test_fleet.py::", "test_fresh_clone.py::")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((n for n, part in enumerate(_LONG_FIRST) if part in item.nodeid), len(_LONG_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order

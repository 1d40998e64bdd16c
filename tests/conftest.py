"""Suite-wide fixtures: isolated ANIMUS_HOME, real git repos, database backends."""

from __future__ import annotations

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

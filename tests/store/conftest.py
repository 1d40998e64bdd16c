from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from animus.store import Store, open_store
from support.pg import fresh_schema, require_pg

BACKENDS = ["sqlite", "sqlite-sqlalchemy", "postgres"]


def make_store(backend: str, tmp_path: Path) -> tuple[Store, str, str | None]:
    if backend == "postgres":
        url = require_pg()
        schema = fresh_schema()
        return open_store(url, schema=schema), url, schema
    url = f"sqlite:///{tmp_path / 'animus.db'}"
    return open_store(url, driver="sqlalchemy" if backend == "sqlite-sqlalchemy" else "auto"), url, None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    st, _url, schema = make_store(backend, tmp_path)
    yield st
    if schema:
        st.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    st.close()

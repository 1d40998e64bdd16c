"""Fixtures for the step-store: a project (a real git repo) on SQLite by default, or on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that asks for it runs on the project's SQLite file and on a fresh PostgreSQL database."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_database")  # sets ANIMUS_DATABASE_URL, which the servers inherit
    return str(request.param)


@pytest.fixture
def root(repo: Path) -> Path:
    return repo

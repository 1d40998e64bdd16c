"""The PostgreSQL server for tests: required in CI (CI=true), skipped with a reason elsewhere."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

PG_URL = os.environ.get("ANIMUS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def require_pg() -> str:
    """The test database URL, or a skip (a failure in CI) when the server is not there."""
    if pg_available():
        return PG_URL
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432, and CI must run the PostgreSQL tests")
    pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (set up a local server to run these tests)")


def fresh_schema() -> str:
    return f"animus_test_{uuid.uuid4().hex[:12]}"

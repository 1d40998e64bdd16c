"""API fixtures: a real project (git repo, config, SQLite store, one finished run) behind Starlette's TestClient."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api import SECRET, TRIGGERS, Api, build
from support.engine import Project as EngineProject
from support.engine import drive, make_project


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> EngineProject:
    """A project whose TASK-1 ran to completion through a manual gate (phases, decisions, agent runs)."""
    tmp = tmp_path_factory.mktemp("ran")
    saved = os.environ.get("ANIMUS_HOME")
    os.environ["HOOK_SECRET"] = SECRET
    try:
        project = make_project(tmp, manual=True, more=TRIGGERS)
        result = drive(project)
        assert result.exits == [0], result.outputs
    finally:
        if saved is not None:
            os.environ["ANIMUS_HOME"] = saved
    return project


@pytest.fixture
def api(ran: EngineProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    built = build(ran)
    with built.client:
        yield built


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """A project of its own (nothing run yet), for tests that count rows."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    built = build(make_project(tmp_path, manual=True, more=TRIGGERS))
    with built.client:
        yield built

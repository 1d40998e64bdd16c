"""Services fixtures: a real project (git repo, config with a manual gate, SQLite store) and its three front ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api import animus_project, build
from support.engine import make_project
from support.services import ADVANCE, Fronts


@pytest.fixture
def fronts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fronts]:
    from animus.mcp import build_server

    project = make_project(tmp_path, manual=True, impl=ADVANCE, review=ADVANCE)
    monkeypatch.setenv("ANIMUS_HOME", str(project.home))
    built = build(project)
    with built.client:
        yield Fronts(project, built, build_server(animus_project(project)))

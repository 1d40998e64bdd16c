"""Every daemon test cleans up after itself: the daemon and its agents are killed even when the test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import cleanup, daemon_project
from support.engine import Project


@pytest.fixture
def project_factory(tmp_path: Path) -> Iterator[Callable[..., Project]]:
    made: list[Project] = []

    def make(**kw: Any) -> Project:
        project = daemon_project(tmp_path / f"p{len(made)}", **kw)
        made.append(project)
        return project

    yield make
    for project in made:
        cleanup(project)

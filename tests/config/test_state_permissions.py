"""The state dir is the owner's alone: $ANIMUS_HOME, state dirs 0700 and every state file 0600 (issue 12, point 3).

Whichever command creates them first (here `animus task create`, `animus run`, `animus daemon
start`); files agents write in their worktrees and files landed into the repo keep the user's umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import daemon as d
from support.cli import run_animus
from support.engine import drive, make_project
from support.repo import make_repo


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """A usual user umask, so 'keeps the default mode' means 0644 and the state's 0600 is animus's doing."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _exposed(state_dir: Path) -> list[str]:
    """Every path under the state dir that group or other may read, write or enter (worktree contents aside)."""
    found = []
    for folder, dirs, files in os.walk(state_dir):
        here = Path(folder)
        if here.parent.name == "worktrees" and here.parent.parent == state_dir:
            dirs[:] = []  # a worktree holds the user's files with the user's modes; worktrees/ (0700) shuts it
            continue
        for name in [*dirs, *files]:
            path = here / name
            if not path.is_symlink() and _mode(path) & 0o077:
                found.append(f"{path.relative_to(state_dir)} {oct(_mode(path))}")
    return found


def test_task_create_as_first_command_makes_home_state_dir_and_database_private(tmp_path: Path, animus_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = run_animus(["task", "create", "--title", "First thing"], cwd=repo, env={"ANIMUS_HOME": str(animus_home)})
    assert result.code == 0, result.stderr
    (state_dir,) = animus_home.iterdir()
    assert (_mode(animus_home), _mode(state_dir)) == (0o700, 0o700)
    db = state_dir / "animus.db"
    for path in (db, db.with_name("animus.db-wal"), db.with_name("animus.db-shm")):
        if path.exists() or path == db:
            assert _mode(path) == 0o600, path
    assert _exposed(state_dir) == []


def test_state_dirs_an_older_version_made_0755_are_tightened_on_open(tmp_path: Path, animus_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {"ANIMUS_HOME": str(animus_home)}
    assert run_animus(["task", "create", "--title", "First"], cwd=repo, env=env).code == 0
    (state_dir,) = animus_home.iterdir()
    animus_home.chmod(0o755)
    state_dir.chmod(0o755)
    assert run_animus(["task", "list"], cwd=repo, env=env).code == 0
    assert (_mode(animus_home), _mode(state_dir)) == (0o700, 0o700)


def test_a_workflow_run_leaves_nothing_readable_by_others_while_agent_files_keep_the_users_mode(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    outcome = drive(project)
    assert outcome.exits == [0], outcome.outputs
    print(sorted(str(p) for p in project.state_dir.rglob("*.txt")))
    assert _mode(project.repo / "a.txt") == 0o644  # and so is the landing's in the user's checkout
    state_dir = project.state_dir
    assert (_mode(project.home), _mode(state_dir)) == (0o700, 0o700)
    for expected in ("animus.db", "executor-id", "executor.lock", "logs/engine.log", "runs", "worktrees"):
        assert (state_dir / expected).exists(), expected
    assert list((state_dir / "runs").glob("*/supervisor.log")), "no run directory was walked"
    assert _exposed(state_dir) == []


def test_a_daemon_start_leaves_nothing_readable_by_others(tmp_path: Path) -> None:
    project = d.daemon_project(tmp_path)
    try:
        d.start(project)
        state_dir = project.state_dir
        for expected in ("daemon.json", "logs/daemon.log", "web-token"):
            assert (state_dir / expected).exists(), expected
        assert _exposed(state_dir) == []
        d.stop(project)
    finally:
        d.cleanup(project)
    assert _exposed(project.state_dir) == []

"""prepare_worktree / remove_worktree: create, reuse, recover from deletion and half-made directories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import Conflict, GitError, InvalidInput
from animus.git import Repo, branch_for_task, list_worktrees, prepare_worktree, prune_worktrees, remove_worktree

if TYPE_CHECKING:
    from conftest import Sandbox  # tests/git/conftest.py, handed out by the `sandbox` fixture


def test_prepare_creates_branch_from_checked_out_branch_and_worktree(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert wt.created
    assert wt.branch == "animus/task-7"
    assert wt.path == sandbox.worktrees / "TASK-7"
    assert wt.base_sha == sandbox.sha("main")
    assert sandbox.git("symbolic-ref", "--short", "HEAD", cwd=wt.path) == "animus/task-7"
    assert (wt.path / "README.md").read_text() == "hello\n"
    assert wt.to_dict()["path"] == str(wt.path)


def test_prepare_twice_reuses_the_worktree_with_the_same_base(sandbox: Sandbox) -> None:
    first = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    sandbox.write("work.txt", "agent work\n", cwd=first.path)
    sandbox.commit("agent", cwd=first.path)
    sandbox.write("other.txt", "main moved\n")
    sandbox.commit("main moves on")
    again = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert not again.created
    assert (again.path, again.branch, again.base_sha) == (first.path, first.branch, first.base_sha)
    assert (again.path / "work.txt").exists()
    assert len(list_worktrees(sandbox.root)) == 2


def test_prepare_readds_worktree_on_existing_branch_after_directory_deleted(sandbox: Sandbox) -> None:
    first = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    sandbox.write("work.txt", "kept on the branch\n", cwd=first.path)
    tip = sandbox.commit("agent", cwd=first.path)
    shutil.rmtree(first.path)
    again = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert again.created
    assert again.base_sha == first.base_sha
    assert sandbox.sha("HEAD", cwd=again.path) == tip
    assert (again.path / "work.txt").read_text() == "kept on the branch\n"


def test_prepare_replaces_an_unregistered_leftover_directory(sandbox: Sandbox) -> None:
    leftover = sandbox.worktrees / "TASK-7"
    sandbox.write("junk.txt", "half made\n", cwd=leftover)
    wt = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert wt.created
    assert not (wt.path / "junk.txt").exists()
    assert (wt.path / "README.md").exists()
    assert sandbox.status(cwd=wt.path) == ""


def test_prepare_recovers_a_worktree_add_killed_while_initializing(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    admin = Path(sandbox.git("rev-parse", "--path-format=absolute", "--git-dir", cwd=wt.path))
    (admin / "locked").write_text("initializing")  # what a killed `git worktree add` leaves behind
    (wt.path / "README.md").unlink()
    again = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert again.created
    assert (again.path / "README.md").exists()
    assert not (admin / "locked").exists()
    assert sandbox.status(cwd=again.path) == ""


def test_prepare_never_deletes_another_repository_in_the_way(sandbox: Sandbox) -> None:
    other = sandbox.worktrees / "TASK-7"
    other.mkdir(parents=True)
    sandbox.git("init", "-q", cwd=other)
    sandbox.write("precious.txt", "mine\n", cwd=other)
    with pytest.raises(Conflict):
        prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert (other / "precious.txt").read_text() == "mine\n"


def test_prepare_symlinked_leftover_removes_only_the_link(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    sandbox.worktrees.mkdir(parents=True)
    os.symlink(outside, sandbox.worktrees / "TASK-7")
    wt = prepare_worktree(sandbox.root, "TASK-7", sandbox.worktrees)
    assert wt.created and not wt.path.is_symlink()
    assert (outside / "keep.txt").read_text() == "keep\n"


def test_prepare_uses_explicit_target_branch(sandbox: Sandbox) -> None:
    sandbox.git("branch", "develop")
    sandbox.write("x.txt", "x\n")
    sandbox.commit("main only")
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees, target_branch="develop")
    assert wt.base_sha == sandbox.sha("develop")
    assert not (wt.path / "x.txt").exists()


def test_prepare_with_detached_head_is_a_clear_git_error(sandbox: Sandbox) -> None:
    sandbox.git("checkout", "-q", "--detach")
    with pytest.raises(GitError, match="detached"):
        prepare_worktree(sandbox.root, "T1", sandbox.worktrees)


def test_prepare_in_repository_without_commits_is_a_clear_git_error(sandbox: Sandbox, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    sandbox.git("init", "-q", "-b", "main", cwd=root)
    with pytest.raises(GitError, match="no commits"):
        prepare_worktree(root, "T1", tmp_path / "wts")


def test_prepare_rejects_task_ids_that_escape_the_worktrees_dir(sandbox: Sandbox) -> None:
    for bad in ("../x", "..", "", "a/b"):
        with pytest.raises(InvalidInput):
            prepare_worktree(sandbox.root, bad, sandbox.worktrees)


def test_branch_for_task_lowercases_and_sanitizes() -> None:
    assert branch_for_task("TASK-042") == "animus/task-042"
    assert branch_for_task("Fix the Bug!") == "animus/fix-the-bug"


def test_worktree_on_another_branch_is_a_conflict(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.git("checkout", "-q", "-b", "elsewhere", cwd=wt.path)
    with pytest.raises(Conflict, match="elsewhere"):
        prepare_worktree(sandbox.root, "T1", sandbox.worktrees)


def test_remove_is_idempotent_and_can_delete_the_branch(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("untracked.txt", "scratch\n", cwd=wt.path)
    assert remove_worktree(sandbox.root, wt.path, wt.branch, delete_branch=True)
    assert not wt.path.exists()
    assert not Repo(sandbox.root).branch_exists(wt.branch)
    assert not remove_worktree(sandbox.root, wt.path, wt.branch, delete_branch=True)
    assert sandbox.registered() == [os.path.realpath(sandbox.root)]


def test_remove_after_directory_vanished_forgets_the_registration(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    shutil.rmtree(wt.path)
    remove_worktree(sandbox.root, wt.path)
    assert sandbox.registered() == [os.path.realpath(sandbox.root)]
    prune_worktrees(sandbox.root)


def test_remove_refuses_the_main_worktree_and_foreign_directories(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        remove_worktree(sandbox.root, sandbox.root)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "f.txt").write_text("f\n")
    with pytest.raises(Conflict):
        remove_worktree(sandbox.root, foreign)
    assert (foreign / "f.txt").exists()

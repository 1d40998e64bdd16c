"""prepare_worktree / remove_worktree: create, reuse, recover from deletion and half-made directories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import Conflict, GitError, InvalidInput
from animus.git import (
    Repo,
    branch_for_task,
    list_worktrees,
    prepare_worktree,
    prune_worktrees,
    push_task_branch,
    remove_worktree,
    restore_worktree,
)

if TYPE_CHECKING:
    from conftest import Clones, Sandbox  # tests/git/conftest.py, handed out by the `sandbox` fixture


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


def test_restore_recreates_the_task_branch_another_clone_pushed(clones: Clones) -> None:
    wt_a = clones.work(clones.a, clones.wt_a, "T1", {"work.txt": "from a\n"})
    push_task_branch(clones.a, "animus/t1")
    restored = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert (restored.path, restored.branch, restored.base_sha, restored.created) == (
        clones.wt_b / "T1",
        "animus/t1",
        clones.base_sha,
        True,
    )
    assert clones.sha(restored.path, "HEAD") == clones.sha(wt_a, "HEAD")
    assert (restored.path / "work.txt").read_text() == "from a\n"
    assert clones.git(restored.path, "symbolic-ref", "--short", "HEAD").strip() == "animus/t1"
    again = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert (again.path, again.created) == (restored.path, False)
    # A goes on and pushes again: B's worktree, behind and clean, is fast-forwarded in place
    (wt_a / "more.txt").write_text("more\n")
    clones.git(wt_a, "add", "-A")
    clones.git(wt_a, "commit", "-q", "-m", "more")
    push_task_branch(clones.a, "animus/t1")
    moved = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert not moved.created and clones.sha(moved.path, "HEAD") == clones.sha(wt_a, "HEAD")
    assert (moved.path / "more.txt").exists()


def test_restore_keeps_a_worktree_that_is_ahead_and_refuses_one_that_diverged(clones: Clones) -> None:
    clones.work(clones.a, clones.wt_a, "T1", {"work.txt": "from a\n"})
    push_task_branch(clones.a, "animus/t1")
    wt_b = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha).path
    (wt_b / "b.txt").write_text("b\n")
    clones.git(wt_b, "add", "-A")
    clones.git(wt_b, "commit", "-q", "-m", "b goes on")
    ahead = clones.sha(wt_b, "HEAD")
    assert clones.sha(restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha).path, "HEAD") == ahead
    clones.git(clones.wt_a / "T1", "commit", "-q", "--allow-empty", "-m", "a goes on too")
    push_task_branch(clones.a, "animus/t1")
    with pytest.raises(Conflict, match="lacks"):
        restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert clones.sha(wt_b, "HEAD") == ahead
    # without its worktree the local branch yields to the remote one
    remove_worktree(clones.b, wt_b)
    taken = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert taken.created and clones.sha(taken.path, "HEAD") == clones.sha(clones.a, "animus/t1")


def test_restore_without_a_pushed_branch_starts_at_base_fetching_it_if_needed(clones: Clones) -> None:
    clones.git(clones.a, "commit", "-q", "--allow-empty", "-m", "main moves on")
    clones.git(clones.a, "push", "-q", "origin", "main")
    base = clones.sha(clones.a, "main")  # B never fetched it
    restored = restore_worktree(clones.b, "T2", clones.wt_b, base_sha=base)
    assert restored.created and restored.base_sha == base == clones.sha(restored.path, "HEAD")
    with pytest.raises(GitError, match="base commit"):
        restore_worktree(clones.b, "T3", clones.wt_b, base_sha="1" * 40)
    assert not (clones.wt_b / "T3").exists()


def test_restore_after_a_crash_between_branch_and_worktree(clones: Clones) -> None:
    clones.work(clones.a, clones.wt_a, "T1", {"work.txt": "from a\n"})
    push_task_branch(clones.a, "animus/t1")
    clones.git(clones.b, "branch", "animus/t1", clones.base_sha)  # a stale local branch, no worktree
    (clones.wt_b / "T1").mkdir(parents=True)
    (clones.wt_b / "T1" / "half.txt").write_text("half made\n")  # a leftover directory git does not know
    restored = restore_worktree(clones.b, "T1", clones.wt_b, base_sha=clones.base_sha)
    assert restored.created and clones.sha(restored.path, "HEAD") == clones.sha(clones.a, "animus/t1")
    assert not (restored.path / "half.txt").exists()

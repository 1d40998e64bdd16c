"""commit_all / find_commit_by_trailer: one commit per run id, whatever the replays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import GitError
from animus.git import changed_files, commit_all, diff_stat, find_commit_by_trailer, prepare_worktree

if TYPE_CHECKING:
    from conftest import Sandbox


def test_commit_all_stages_everything_and_adds_the_run_trailer(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("new.txt", "new\n", cwd=wt.path)
    (wt.path / "README.md").write_text("changed\n")
    result = commit_all(wt.path, "Implement T1\n\nBody text.", "run-123")
    assert result.created and result.sha == sandbox.sha("HEAD", cwd=wt.path)
    assert sandbox.git("log", "-1", "--format=%(trailers:key=Animus-Run,valueonly)", cwd=wt.path) == "run-123"
    assert sandbox.git("log", "-1", "--format=%s", cwd=wt.path) == "Implement T1"
    assert sandbox.status(cwd=wt.path) == ""
    assert find_commit_by_trailer(wt.path, "run-123") == result.sha


def test_commit_all_replayed_with_same_run_id_commits_once(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    first = commit_all(wt.path, "work", "run-1", base_sha=wt.base_sha)
    sandbox.write("b.txt", "more work after the crash\n", cwd=wt.path)
    second = commit_all(wt.path, "work", "run-1", base_sha=wt.base_sha)
    assert first.created and not second.created
    assert second.sha == first.sha
    assert sandbox.count(f"{wt.base_sha}..HEAD", cwd=wt.path) == 1


def test_commit_all_with_nothing_to_commit_returns_none(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    result = commit_all(wt.path, "nothing", "run-empty")
    assert (result.sha, result.created) == (None, False)
    assert sandbox.count(f"{wt.base_sha}..HEAD", cwd=wt.path) == 0


def test_trailer_lookup_matches_the_whole_run_id_only(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    commit_all(wt.path, "work", "run-10")
    assert find_commit_by_trailer(wt.path, "run-1") is None
    sandbox.write("b.txt", "b\n", cwd=wt.path)
    assert commit_all(wt.path, "work", "run-1").created


def test_commit_uses_fallback_identity_without_touching_config(sandbox: Sandbox) -> None:
    sandbox.git("config", "--unset", "user.name")
    sandbox.git("config", "--unset", "user.email")
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    commit_all(wt.path, "work", "run-1", author="Agent Smith <agent@example.com>")
    assert sandbox.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=wt.path) == (
        "Agent Smith <agent@example.com>|animus <animus@localhost>"
    )
    assert sandbox.git("config", "--get", "user.name", check=False) == ""


def test_commit_keeps_repository_identity_when_configured(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    commit_all(wt.path, "# Heading kept\n\nbody", "run-1")
    assert sandbox.git("log", "-1", "--format=%cn|%s", cwd=wt.path) == "Tester|# Heading kept"


def test_commit_rejects_multiline_run_id(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    with pytest.raises(GitError):
        commit_all(wt.path, "work", "run\nEvil: 1")


def test_changed_files_and_diff_stat_cover_committed_staged_and_untracked(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("committed.txt", "one\ntwo\n", cwd=wt.path)
    commit_all(wt.path, "work", "run-1")
    (wt.path / "README.md").write_text("hello\nworld\n")
    sandbox.write("new/untracked.txt", "x\n", cwd=wt.path)
    sandbox.write(".gitignore", "*.log\n", cwd=wt.path)
    sandbox.write("noise.log", "ignored\n", cwd=wt.path)
    index_before = (sandbox.root / ".git" / "worktrees" / "T1" / "index").read_bytes()
    assert changed_files(wt.path, wt.base_sha) == [".gitignore", "README.md", "committed.txt", "new/untracked.txt"]
    stat = diff_stat(wt.path, wt.base_sha)
    assert (stat.files_changed, stat.insertions, stat.deletions) == (4, 5, 0)
    assert "README.md" in stat.text
    assert (sandbox.root / ".git" / "worktrees" / "T1" / "index").read_bytes() == index_before


def test_worktree_snapshots_name_what_changed_between_them_and_ignore_commits(sandbox: Sandbox) -> None:
    from animus.git import changed_since, worktree_tree

    sandbox.write("untracked-before.txt", "was here\n")
    before = worktree_tree(sandbox.root)
    assert changed_since(sandbox.root, before) == []
    sandbox.write("README.md", "edited\n")
    sandbox.write("src/new.py", "x = 1\n")
    sandbox.write(".gitignore", "*.log\n")
    sandbox.write("ignored.log", "never counts\n")
    (sandbox.root / "untracked-before.txt").unlink()
    assert changed_since(sandbox.root, before) == [".gitignore", "README.md", "src/new.py", "untracked-before.txt"]
    sandbox.commit("the agent committed it itself")
    assert changed_since(sandbox.root, before) == [".gitignore", "README.md", "src/new.py", "untracked-before.txt"]
    assert sandbox.git("diff", "--cached", "--name-only") == ""  # the real index was never touched

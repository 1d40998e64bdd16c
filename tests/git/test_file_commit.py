"""commit_file_on_branch: one file, one commit, on a branch checked out or not, never over a user's edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import Conflict, InvalidInput, NotFound
from animus.git import commit_file_on_branch

if TYPE_CHECKING:
    from conftest import Sandbox


def _set(text: str | None) -> Callable[[str | None], str | None]:
    return lambda _old: text


def test_a_branch_checked_out_nowhere_gets_one_commit_and_no_working_tree_changes(sandbox: Sandbox) -> None:
    sandbox.write("tasks/a.md", "status: todo\n")
    sandbox.commit("tasks")
    sandbox.git("branch", "side")
    before = sandbox.sha("side")
    seen: list[str | None] = []

    def edit(old: str | None) -> str:
        seen.append(old)
        return "status: done\n"

    sha = commit_file_on_branch(sandbox.root, "side", "tasks/a.md", edit, "animus: tasks/a.md status → done")
    assert sha == sandbox.sha("side")
    assert seen == ["status: todo\n"]
    assert sandbox.git("rev-list", "--count", f"{before}..side") == "1"
    assert sandbox.git("show", "side:tasks/a.md") == "status: done"
    assert sandbox.git("diff", "--name-only", before, "side") == "tasks/a.md"
    assert sandbox.git("log", "-1", "--format=%s", "side") == "animus: tasks/a.md status → done"
    assert (sandbox.root / "tasks/a.md").read_text() == "status: todo\n"  # main's checkout untouched
    assert sandbox.status() == ""


def test_the_same_content_again_is_a_no_op(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "x\n")
    sandbox.commit("a")
    sandbox.git("branch", "side")
    assert commit_file_on_branch(sandbox.root, "side", "a.md", _set("y\n"), "write y") is not None
    tip = sandbox.sha("side")
    assert commit_file_on_branch(sandbox.root, "side", "a.md", _set("y\n"), "write y") is None
    assert commit_file_on_branch(sandbox.root, "side", "a.md", _set(None), "leave it") is None
    assert sandbox.sha("side") == tip


def test_the_checked_out_branch_commits_only_that_file_and_keeps_the_users_other_work(sandbox: Sandbox) -> None:
    sandbox.write("tasks/a.md", "---\nstatus: todo\n---\nbody\r\n")
    sandbox.write("other.txt", "one\n")
    sandbox.commit("tasks")
    sandbox.write("other.txt", "the user's unstaged edit\n")
    sandbox.write("staged.txt", "the user's staged file\n")
    sandbox.git("add", "staged.txt")
    before = sandbox.sha("main")
    new = "---\nstatus: done\n---\nbody\r\n"
    sha = commit_file_on_branch(sandbox.root, "main", "tasks/a.md", _set(new), "status done")
    assert sha == sandbox.sha("main") and sandbox.git("rev-parse", "HEAD~1") == before
    assert sandbox.git("diff", "--name-only", before, "main") == "tasks/a.md"
    assert (sandbox.root / "tasks/a.md").read_bytes() == new.encode()
    assert (sandbox.root / "other.txt").read_text() == "the user's unstaged edit\n"
    assert sandbox.git("diff", "--name-only") == "other.txt"  # still unstaged
    assert sandbox.git("diff", "--cached", "--name-only") == "staged.txt"  # still staged, not committed


def test_a_users_uncommitted_edit_of_the_file_is_never_overwritten(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "status: todo\n")
    sandbox.commit("a")
    sandbox.write("a.md", "status: todo\nthe user's edit\n")
    before = sandbox.sha("main")
    with pytest.raises(Conflict, match="uncommitted changes"):
        commit_file_on_branch(sandbox.root, "main", "a.md", _set("status: done\n"), "done")
    assert (sandbox.root / "a.md").read_text() == "status: todo\nthe user's edit\n"
    assert sandbox.sha("main") == before
    sandbox.git("add", "a.md")  # staged counts too
    with pytest.raises(Conflict, match="uncommitted changes"):
        commit_file_on_branch(sandbox.root, "main", "a.md", _set("status: done\n"), "done")
    assert sandbox.sha("main") == before


def test_an_unchanged_result_is_a_no_op_even_when_the_checkout_is_dirty(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "status: done\n")
    sandbox.commit("a")
    sandbox.write("a.md", "the user's edit\n")
    assert commit_file_on_branch(sandbox.root, "main", "a.md", _set("status: done\n"), "done") is None


def test_a_new_file_in_a_checkout_with_an_untracked_file_in_the_way_is_refused(sandbox: Sandbox) -> None:
    sandbox.write("new.md", "the user's untracked file\n")
    with pytest.raises(Conflict, match="uncommitted changes|in the way"):
        commit_file_on_branch(sandbox.root, "main", "new.md", _set("ours\n"), "add")
    assert (sandbox.root / "new.md").read_text() == "the user's untracked file\n"
    (sandbox.root / "new.md").unlink()
    sha = commit_file_on_branch(sandbox.root, "main", "new.md", _set("ours\n"), "add")
    assert sha == sandbox.sha("main") and sandbox.status() == ""


def test_a_merge_in_progress_in_the_checkout_is_refused(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "base\n")
    sandbox.commit("a")
    sandbox.git("checkout", "-q", "-b", "other")
    sandbox.write("a.md", "other\n")
    sandbox.commit("other")
    sandbox.git("checkout", "-q", "main")
    sandbox.write("a.md", "main\n")
    sandbox.commit("main")
    sandbox.git("merge", "other", check=False)  # conflicts, leaves MERGE_HEAD
    with pytest.raises(Conflict, match="merge is in progress"):
        commit_file_on_branch(sandbox.root, "main", "b.md", _set("x\n"), "add")


def test_bad_paths_and_missing_branches_are_refused(sandbox: Sandbox) -> None:
    for bad in ("../x.md", "/etc/passwd", ".git/config", "", "."):
        with pytest.raises(InvalidInput):
            commit_file_on_branch(sandbox.root, "main", bad, _set("x"), "m")
    with pytest.raises(NotFound):
        commit_file_on_branch(sandbox.root, "nope", "a.md", _set("x"), "m")


def test_a_branch_that_moves_during_the_write_is_edited_again_from_its_new_tip(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "v1\n")
    sandbox.commit("a")
    sandbox.git("branch", "side")
    seen: list[str | None] = []

    def edit(old: str | None) -> str:
        seen.append(old)
        if len(seen) == 1:  # someone else commits on side between our read and our ref update
            wt = sandbox.base / "elsewhere"
            sandbox.git("worktree", "add", "-q", str(wt), "side")
            sandbox.write("a.md", "v2\n", cwd=wt)
            sandbox.commit("theirs", cwd=wt)
            sandbox.git("worktree", "remove", str(wt))
        return (old or "") + "ours\n"

    commit_file_on_branch(sandbox.root, "side", "a.md", edit, "ours")
    assert seen == ["v1\n", "v2\n"]
    assert sandbox.git("show", "side:a.md") == "v2\nours"
    assert sandbox.git("log", "--format=%s", "-2", "side").splitlines() == ["ours", "theirs"]


def test_a_branch_checked_out_in_a_linked_worktree_is_committed_there(sandbox: Sandbox) -> None:
    sandbox.write("a.md", "v1\n")
    sandbox.commit("a")
    wt = sandbox.base / "linked"
    sandbox.git("worktree", "add", "-q", "-b", "side", str(wt))
    sha = commit_file_on_branch(sandbox.root, "side", "a.md", _set("v2\n"), "v2")
    assert sha == sandbox.sha("side")
    assert (wt / "a.md").read_text() == "v2\n" and sandbox.status(cwd=wt) == ""
    assert (sandbox.root / "a.md").read_text() == "v1\n"

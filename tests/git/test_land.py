"""land(): merge, squash and rebase into checked-out and free targets; replays, dirty checkouts, conflicts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import Conflict, InvalidInput
from animus.git import Worktree, commit_all, land, prepare_worktree

if TYPE_CHECKING:
    from conftest import Sandbox

STRATEGIES = ["merge", "squash", "rebase"]


def _task_with_work(sandbox: Sandbox, task: str = "T1", name: str = "feature.txt") -> Worktree:
    wt = prepare_worktree(sandbox.root, task, sandbox.worktrees)
    sandbox.write(name, "feature\n", cwd=wt.path)
    commit_all(wt.path, f"add {name}", f"run-{task}-1")
    sandbox.write("second.txt", "second\n", cwd=wt.path)
    commit_all(wt.path, "second change", f"run-{task}-2")
    return wt


def _advance_main(sandbox: Sandbox) -> str:
    sandbox.write("main-only.txt", "main moved on\n")
    return sandbox.commit("main moves on")


def _landings(sandbox: Sandbox, ref: str, land_id: str) -> int:
    log = sandbox.git("log", "--format=%(trailers:key=Animus-Land,valueonly)", ref)
    return sum(1 for line in log.splitlines() if line.strip() == land_id)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_land_into_checked_out_clean_target_updates_working_tree(sandbox: Sandbox, strategy: str) -> None:
    wt = _task_with_work(sandbox)
    _advance_main(sandbox)
    result = land(sandbox.root, wt.branch, "main", strategy, "Land T1", "land-T1")  # type: ignore[arg-type]
    assert result.status == "merged"
    assert result.sha == sandbox.sha("main") == sandbox.sha("HEAD")
    assert (sandbox.root / "feature.txt").read_text() == "feature\n"
    assert (sandbox.root / "main-only.txt").exists()
    assert sandbox.status() == ""
    parents = sandbox.git("log", "-1", "--format=%P", "main").split()
    if strategy == "merge":
        assert parents[1] == sandbox.sha(wt.branch)
        assert _landings(sandbox, "main", "land-T1") == 1
    elif strategy == "squash":
        assert len(parents) == 1
        assert _landings(sandbox, "main", "land-T1") == 1
        assert sandbox.git("log", "-1", "--format=%s", "main") == "Land T1"
    else:
        assert sandbox.sha(wt.branch) == sandbox.sha("main")
        assert sandbox.count("main", "--merges") == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_land_into_target_checked_out_nowhere_moves_the_ref_only(sandbox: Sandbox, strategy: str) -> None:
    sandbox.git("branch", "release")
    wt = _task_with_work(sandbox)
    sandbox.write("release-only.txt", "r\n")
    sandbox.git("checkout", "-q", "release")
    sandbox.commit("release moves on")
    sandbox.git("checkout", "-q", "main")
    main_before = sandbox.sha("main")
    result = land(
        sandbox.root,
        wt.branch,
        "release",
        strategy,
        "Land T1",
        "land-T1",
        worktrees_dir=sandbox.worktrees,  # type: ignore[arg-type]
    )
    assert result.status == "merged"
    assert result.sha == sandbox.sha("release")
    files = sandbox.git("ls-tree", "-r", "--name-only", "release").splitlines()
    assert {"feature.txt", "second.txt", "release-only.txt"} <= set(files)
    assert sandbox.sha("main") == main_before
    assert sandbox.status() == ""
    assert sorted(sandbox.registered()) == sorted([os.path.realpath(sandbox.root), os.path.realpath(wt.path)])
    assert sorted(p.name for p in sandbox.worktrees.iterdir()) == ["T1"]


def test_rebase_land_of_branch_checked_out_nowhere_uses_a_temporary_worktree(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    sandbox.git("worktree", "remove", str(wt.path))
    sandbox.git("branch", "release", "HEAD")
    sandbox.git("checkout", "-q", "release")
    _advance_main(sandbox)
    sandbox.git("checkout", "-q", "main")
    result = land(sandbox.root, wt.branch, "release", "rebase", "m", "land-1", worktrees_dir=sandbox.worktrees)
    assert result.status == "merged"
    assert sandbox.sha("release") == sandbox.sha(wt.branch) == result.sha
    assert sandbox.registered() == [os.path.realpath(sandbox.root)]
    assert list(sandbox.worktrees.iterdir()) == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_land_twice_is_already_merged_with_one_landing(sandbox: Sandbox, strategy: str) -> None:
    wt = _task_with_work(sandbox)
    _advance_main(sandbox)
    first = land(sandbox.root, wt.branch, "main", strategy, "Land T1", "land-T1")  # type: ignore[arg-type]
    commits_after_first = sandbox.count("main")
    _advance_main(sandbox)  # the user keeps working; the replay must still find the landing
    second = land(sandbox.root, wt.branch, "main", strategy, "Land T1", "land-T1")  # type: ignore[arg-type]
    assert (first.status, second.status) == ("merged", "already_merged")
    assert second.sha == first.sha
    assert sandbox.count("main") == commits_after_first + 1
    if strategy == "merge":
        assert sandbox.count("main", "--merges") == 1
    if strategy == "squash":
        assert _landings(sandbox, "main", "land-T1") == 1


def test_squash_replay_after_task_branch_deleted_finds_the_landing(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    first = land(sandbox.root, wt.branch, "main", "squash", "Land", "land-1")
    sandbox.git("worktree", "remove", str(wt.path))
    sandbox.git("branch", "-D", wt.branch)
    again = land(sandbox.root, wt.branch, "main", "squash", "Land", "land-1")
    assert (again.status, again.sha) == ("already_merged", first.sha)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_dirty_target_checkout_is_a_conflict_and_nothing_changes(sandbox: Sandbox, strategy: str) -> None:
    wt = _task_with_work(sandbox)
    (sandbox.root / "README.md").write_text("user edit, not committed\n")
    sandbox.write("staged.txt", "staged by the user\n")
    sandbox.git("add", "staged.txt")
    index = sandbox.root / ".git" / "index"
    before = (index.read_bytes(), sandbox.sha("HEAD"), sandbox.sha(wt.branch), sandbox.status())
    with pytest.raises(Conflict) as err:
        land(sandbox.root, wt.branch, "main", strategy, "Land", "land-1")  # type: ignore[arg-type]
    assert err.value.details["files"] == ["README.md", "staged.txt"]
    assert "README.md" in err.value.message
    assert (sandbox.root / "README.md").read_text() == "user edit, not committed\n"
    assert (index.read_bytes(), sandbox.sha("HEAD"), sandbox.sha(wt.branch), sandbox.status()) == before


def test_untracked_file_the_landing_would_overwrite_is_a_conflict(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    sandbox.write("feature.txt", "the user's own untracked file\n")
    head = sandbox.sha("HEAD")
    with pytest.raises(Conflict, match="feature.txt"):
        land(sandbox.root, wt.branch, "main", "merge", "Land", "land-1")
    assert (sandbox.root / "feature.txt").read_text() == "the user's own untracked file\n"
    assert sandbox.sha("HEAD") == head


def test_unrelated_untracked_files_do_not_block_landing(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    sandbox.write("notes/todo.txt", "mine\n")
    result = land(sandbox.root, wt.branch, "main", "merge", "Land", "land-1")
    assert result.status == "merged"
    assert (sandbox.root / "notes" / "todo.txt").read_text() == "mine\n"


@pytest.mark.parametrize("checked_out", [True, False])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_merge_conflict_is_reported_and_aborted(sandbox: Sandbox, strategy: str, checked_out: bool) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    (wt.path / "README.md").write_text("task version\n")
    commit_all(wt.path, "task edit", "run-1")
    (sandbox.root / "README.md").write_text("main version\n")
    sandbox.commit("main edit")
    target = "main"
    if not checked_out:
        sandbox.git("checkout", "-q", "-b", "other")
    before = (sandbox.sha("main"), sandbox.sha(wt.branch), sandbox.sha("HEAD"))
    result = land(sandbox.root, wt.branch, target, strategy, "Land", "land-1", worktrees_dir=sandbox.worktrees)  # type: ignore[arg-type]
    assert (result.status, result.sha, result.conflict_files) == ("conflict", None, ["README.md"])
    assert (sandbox.sha("main"), sandbox.sha(wt.branch), sandbox.sha("HEAD")) == before
    for tree in (sandbox.root, wt.path):
        git_dir = Path(sandbox.git("rev-parse", "--path-format=absolute", "--git-dir", cwd=tree))
        assert not (git_dir / "MERGE_HEAD").exists()
        assert not (git_dir / "SQUASH_MSG").exists()
        assert not (git_dir / "rebase-merge").exists()
        assert sandbox.status(cwd=tree) == ""
    assert (sandbox.root / "README.md").read_text() == "main version\n"
    assert sorted(sandbox.registered()) == sorted([os.path.realpath(sandbox.root), os.path.realpath(wt.path)])


def test_branch_already_in_target_is_already_merged(sandbox: Sandbox) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    result = land(sandbox.root, wt.branch, "main", "merge", "Land", "land-1")
    assert (result.status, result.sha) == ("already_merged", wt.base_sha)
    assert sandbox.count("main") == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_branch_without_commits_beyond_its_base_is_nothing_to_land(sandbox: Sandbox, strategy: str) -> None:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    moved = _advance_main(sandbox)  # even with the target ahead: the task made nothing to bring in
    result = land(sandbox.root, wt.branch, "main", strategy, "Land", "land-1", base_sha=wt.base_sha)  # type: ignore[arg-type]
    assert (result.status, result.sha) == ("nothing_to_land", None)
    assert sandbox.sha("main") == moved


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_landed_branch_replayed_with_its_base_is_already_merged_not_nothing(sandbox: Sandbox, strategy: str) -> None:
    wt = _task_with_work(sandbox)
    first = land(sandbox.root, wt.branch, "main", strategy, "Land", "land-1", base_sha=wt.base_sha)  # type: ignore[arg-type]
    again = land(sandbox.root, wt.branch, "main", strategy, "Land", "land-1", base_sha=wt.base_sha)  # type: ignore[arg-type]
    assert first.status == "merged" and (again.status, again.sha) == ("already_merged", first.sha)


def test_dirty_task_worktree_blocks_rebase_without_touching_it(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    _advance_main(sandbox)
    (wt.path / "feature.txt").write_text("uncommitted agent edit\n")
    with pytest.raises(Conflict, match="uncommitted"):
        land(sandbox.root, wt.branch, "main", "rebase", "Land", "land-1")
    assert (wt.path / "feature.txt").read_text() == "uncommitted agent edit\n"


def test_unknown_strategy_is_invalid_input(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidInput):
        land(sandbox.root, "x", "main", "octopus", "m", "l")  # type: ignore[arg-type]


def _conflicting_task(sandbox: Sandbox) -> Worktree:
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    (wt.path / "README.md").write_text("task version\n")
    commit_all(wt.path, "task edit", "run-1")
    (sandbox.root / "README.md").write_text("main version\n")
    sandbox.commit("main edit")
    return wt


def test_replay_aborts_the_conflicted_merge_a_killed_landing_left_behind(sandbox: Sandbox) -> None:
    wt = _conflicting_task(sandbox)
    head = sandbox.sha("HEAD")
    # the landing was killed between `git merge` reporting the conflict and `git merge --abort`
    sandbox.git("merge", "--no-ff", "-m", "Land\n\nAnimus-Land: land-1", sandbox.sha(wt.branch), check=False)
    assert (sandbox.root / ".git" / "MERGE_HEAD").exists()
    result = land(sandbox.root, wt.branch, "main", "merge", "Land", "land-1")
    assert (result.status, result.conflict_files) == ("conflict", ["README.md"])
    assert not (sandbox.root / ".git" / "MERGE_HEAD").exists()
    assert (sandbox.sha("HEAD"), sandbox.status()) == (head, "")


def test_a_merge_the_user_started_is_never_aborted(sandbox: Sandbox) -> None:
    wt = _conflicting_task(sandbox)
    sandbox.git("merge", "--no-ff", "-m", "my own merge", sandbox.sha(wt.branch), check=False)
    with pytest.raises(Conflict, match="merge is in progress"):
        land(sandbox.root, wt.branch, "main", "merge", "Land", "land-1")
    assert (sandbox.root / ".git" / "MERGE_HEAD").exists()


def test_replay_finishes_a_squash_killed_before_its_commit(sandbox: Sandbox) -> None:
    wt = _task_with_work(sandbox)
    sandbox.git("merge", "--squash", wt.branch)  # staged, then the landing was killed before committing
    result = land(sandbox.root, wt.branch, "main", "squash", "Land", "land-1")
    assert result.status == "merged"
    assert _landings(sandbox, "main", "land-1") == 1
    assert sandbox.count("main") == 2
    assert sandbox.status() == ""


def test_replay_aborts_the_rebase_a_killed_landing_left_in_the_task_worktree(sandbox: Sandbox) -> None:
    wt = _conflicting_task(sandbox)
    tip = sandbox.sha(wt.branch)
    sandbox.git("rebase", sandbox.sha("main"), cwd=wt.path, check=False)
    result = land(sandbox.root, wt.branch, "main", "rebase", "Land", "land-1")
    assert (result.status, result.conflict_files) == ("conflict", ["README.md"])
    assert sandbox.sha(wt.branch) == tip
    assert sandbox.status(cwd=wt.path) == ""

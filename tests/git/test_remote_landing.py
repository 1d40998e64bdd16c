"""land_remote(): several clones of one bare origin landing onto origin/main at once, each landing once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from animus.domain.errors import GitError
from animus.git import LandResult, LandStrategy, _remote_land, branch_for_task, land_remote, list_worktrees

if TYPE_CHECKING:
    from conftest import Clones

STRATEGIES: list[LandStrategy] = ["merge", "squash", "rebase"]


def _land(repo: Path, worktrees: Path, task: str, strategy: LandStrategy, **kw: Any) -> LandResult:
    return land_remote(
        repo, branch_for_task(task), "main", strategy, f"Land {task}", f"land-{task}", worktrees_dir=worktrees, **kw
    )


def _landed_once(clones: Clones, task: str, strategy: LandStrategy) -> bool:
    """Whether origin/main holds task's work exactly once (the land trailer; for rebase, the run's commit)."""
    trailer = f"Animus-Run: run-{task}" if strategy == "rebase" else f"Animus-Land: land-{task}"
    return clones.count(clones.origin, "main", trailer) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_clones_landing_at_once_each_land_exactly_once(clones: Clones, strategy: LandStrategy) -> None:
    rounds = 4
    results: dict[str, LandResult | BaseException] = {}

    def host(repo: Path, worktrees: Path, task: str, barrier: threading.Barrier) -> None:
        clones.work(repo, worktrees, task, {f"{task}.txt": f"{task}\n"})
        barrier.wait()
        try:
            results[task] = _land(repo, worktrees, task, strategy)
        except BaseException as exc:  # reported below, with the task's name
            results[task] = exc

    for i in range(rounds):
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=host, args=(clones.a, clones.wt_a, f"a{i}", barrier)),
            threading.Thread(target=host, args=(clones.b, clones.wt_b, f"b{i}", barrier)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {task: getattr(r, "status", repr(r)) for task, r in results.items()} == dict.fromkeys(results, "merged")
    tree = clones.git(clones.origin, "ls-tree", "--name-only", "main").split()
    for task in results:
        assert _landed_once(clones, task, strategy), task
        assert f"{task}.txt" in tree
    assert len(results) == 2 * rounds


def test_push_rejected_because_the_other_clone_landed_first_is_merged_again(
    clones: Clones, monkeypatch: pytest.MonkeyPatch
) -> None:
    clones.work(clones.a, clones.wt_a, "ta", {"a.txt": "a\n"})
    clones.work(clones.b, clones.wt_b, "tb", {"b.txt": "b\n"})
    real = _remote_land._land_onto
    calls: list[str] = []

    def b_lands_in_between(repo: Any, *args: Any) -> LandResult:
        made = real(repo, *args)
        calls.append(args[2])  # the tip this attempt merged onto
        if len(calls) == 1:  # B lands after A merged onto the old tip, before A pushes
            assert _land(clones.b, clones.wt_b, "tb", "merge").status == "merged"
        return made

    monkeypatch.setattr(_remote_land, "_land_onto", b_lands_in_between)
    result = _land(clones.a, clones.wt_a, "ta", "merge")
    assert result.status == "merged"
    assert len(calls) == 3  # A's first try, B's landing, A's second try on B's tip
    assert calls[0] == clones.base_sha != calls[2]
    assert clones.sha(clones.origin, "main") == result.sha
    assert _landed_once(clones, "ta", "merge") and _landed_once(clones, "tb", "merge")
    assert clones.sha(clones.a, "origin/main") == result.sha


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_land_remote_replayed_lands_once(clones: Clones, strategy: LandStrategy) -> None:
    clones.work(clones.a, clones.wt_a, "t1", {"f.txt": "f\n"})
    first = _land(clones.a, clones.wt_a, "t1", strategy)
    clones.git(clones.a, "update-ref", "-d", "refs/remotes/origin/main")  # as if the crash came before this
    again = _land(clones.a, clones.wt_a, "t1", strategy)
    assert (first.status, again.status) == ("merged", "already_merged")
    assert clones.sha(clones.origin, "main") == first.sha
    assert _landed_once(clones, "t1", strategy)
    if strategy != "rebase":
        assert again.sha == first.sha


def test_replay_on_another_clone_after_the_task_branch_was_deleted(clones: Clones) -> None:
    clones.work(clones.a, clones.wt_a, "t1", {"f.txt": "f\n"})
    first = _land(clones.a, clones.wt_a, "t1", "squash")
    again = _land(clones.b, clones.wt_b, "t1", "squash")  # B has no such branch: only the trailer can tell
    assert again == LandResult("already_merged", first.sha)
    assert clones.sha(clones.b, "main") == first.sha  # B's main, checked out and clean, came along


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_conflict_is_reported_and_nothing_is_pushed(clones: Clones, strategy: LandStrategy) -> None:
    clones.work(clones.a, clones.wt_a, "ta", {"README.md": "from a\n"})
    clones.work(clones.b, clones.wt_b, "tb", {"README.md": "from b\n"})
    landed = _land(clones.b, clones.wt_b, "tb", strategy)
    result = _land(clones.a, clones.wt_a, "ta", strategy)
    assert result == LandResult("conflict", None, ["README.md"])
    assert clones.sha(clones.origin, "main") == landed.sha
    assert clones.sha(clones.a, "main") == clones.base_sha
    assert [e.path.name for e in list_worktrees(clones.a)] == ["a", "ta"]  # no scratch worktree left
    assert clones.git(clones.wt_a / "ta", "status", "--porcelain") == ""


def test_nothing_beyond_base_is_nothing_to_land(clones: Clones) -> None:
    from animus.git import prepare_worktree

    wt = prepare_worktree(clones.a, "t1", clones.wt_a, "main")
    result = _land(clones.a, clones.wt_a, "t1", "merge", base_sha=wt.base_sha)
    assert result == LandResult("nothing_to_land", None)
    assert clones.sha(clones.origin, "main") == clones.base_sha


def test_local_target_follows_only_when_nothing_can_be_lost(clones: Clones) -> None:
    clones.work(clones.a, clones.wt_a, "t1", {"f.txt": "f\n"})
    first = _land(clones.a, clones.wt_a, "t1", "merge")
    assert clones.sha(clones.a, "main") == first.sha  # checked out, clean: fast-forwarded there
    assert (clones.a / "f.txt").exists()
    (clones.a / "README.md").write_text("user edit\n")
    clones.work(clones.a, clones.wt_a, "t2", {"g.txt": "g\n"})
    second = _land(clones.a, clones.wt_a, "t2", "merge")
    assert clones.sha(clones.a, "main") == first.sha != second.sha  # dirty checkout: left alone
    assert (clones.a / "README.md").read_text() == "user edit\n"
    clones.git(clones.a, "checkout", "-q", "--detach")
    clones.work(clones.a, clones.wt_a, "t3", {"h.txt": "h\n"})
    third = _land(clones.a, clones.wt_a, "t3", "squash")
    assert clones.sha(clones.a, "main") == third.sha  # checked out nowhere: moved by compare-and-swap


def test_pushes_rejected_every_time_give_up_with_a_hint(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    clones.work(clones.a, clones.wt_a, "t1", {"f.txt": "f\n"})
    monkeypatch.setattr(_remote_land, "_push_fast_forward", lambda *args: False)
    with pytest.raises(GitError) as err:
        _land(clones.a, clones.wt_a, "t1", "merge", attempts=2)
    assert err.value.hint and "retry" in err.value.hint
    assert clones.sha(clones.origin, "main") == clones.base_sha

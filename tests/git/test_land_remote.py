"""Landing onto the remote's target: two clones landing at once lose nothing and land nothing twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from animus import git as agit
from support.repo import git


def _clones(tmp_path: Path, n: int = 2) -> tuple[Path, list[Path]]:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    clones = []
    for i in range(n):
        clone = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.name", f"C{i}")
        git(clone, "config", "user.email", f"c{i}@example.com")
        if i == 0:
            (clone / "README.md").write_text("seed\n")
            git(clone, "add", ".")
            git(clone, "commit", "-q", "-m", "seed")
            git(clone, "push", "-q", "origin", "main")
        else:
            git(clone, "pull", "-q", "origin", "main")
        clones.append(clone)
    return origin, clones


def _task_branch(clone: Path, name: str, path: str, content: str = "x\n") -> str:
    git(clone, "fetch", "-q", "origin", "main")
    git(clone, "branch", "-f", name, "origin/main")
    wt = clone.parent / f"wt-{clone.name}-{name.replace('/', '-')}"
    git(clone, "worktree", "add", "-q", str(wt), name)
    (wt / path).write_text(content)
    git(wt, "add", ".")
    git(wt, "commit", "-q", "-m", f"work {name}")
    git(clone, "worktree", "remove", "--force", str(wt))
    return git(clone, "rev-parse", "origin/main").strip()


def _landings(origin: Path) -> list[str]:
    return [line for line in git(origin, "log", "--format=%B", "main").splitlines() if line.startswith("Animus-Land:")]


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_two_clones_landing_at_once_land_everything_once(tmp_path: Path, strategy: str) -> None:
    origin, clones = _clones(tmp_path)
    rounds = 4
    errors: list[BaseException] = []

    def lander(i: int) -> None:
        try:
            for r in range(rounds):
                name = f"animus/T{i}-{r}"
                base = _task_branch(clones[i], name, f"f{i}-{r}.txt")
                result = agit.land_remote(clones[i], name, "main", strategy, f"land {name}", f"run-{i}-{r}", base_sha=base)  # type: ignore[arg-type]
                assert result.status == "merged", result
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=lander, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    files = set(git(origin, "ls-tree", "--name-only", "main").split())
    assert {f"f{i}-{r}.txt" for i in range(2) for r in range(rounds)} <= files  # none lost
    if strategy != "rebase":  # merge and squash commits carry the trailer: one per landing, none twice
        assert sorted(_landings(origin)) == sorted(f"Animus-Land: run-{i}-{r}" for i in range(2) for r in range(rounds))
    else:
        subjects = git(origin, "log", "--format=%s", "main").splitlines()
        assert sorted(s for s in subjects if s.startswith("work ")) == sorted(
            f"work animus/T{i}-{r}" for i in range(2) for r in range(rounds))


def test_a_replay_lands_once_and_a_rejected_push_is_merged_again(tmp_path: Path) -> None:
    origin, (a, b) = _clones(tmp_path)
    base_a = _task_branch(a, "animus/A", "a.txt")
    base_b = _task_branch(b, "animus/B", "b.txt")
    assert agit.land_remote(b, "animus/B", "main", "merge", "land B", "run-b", base_sha=base_b).status == "merged"
    # a's view of origin/main is stale: its first push is rejected, the landing re-merges onto the new tip
    first = agit.land_remote(a, "animus/A", "main", "merge", "land A", "run-a", base_sha=base_a)
    assert first.status == "merged"
    again = agit.land_remote(a, "animus/A", "main", "merge", "land A", "run-a", base_sha=base_a)
    assert again.status == "already_merged" and again.sha == first.sha
    assert sorted(_landings(origin)) == ["Animus-Land: run-a", "Animus-Land: run-b"]
    assert git(a, "rev-parse", "main").strip() == first.sha  # the clean local checkout was fast-forwarded


def test_a_conflict_pushes_nothing(tmp_path: Path) -> None:
    origin, (a, b) = _clones(tmp_path)
    base_a = _task_branch(a, "animus/A", "same.txt", "from a\n")
    base_b = _task_branch(b, "animus/B", "same.txt", "from b\n")
    assert agit.land_remote(b, "animus/B", "main", "merge", "land B", "run-b", base_sha=base_b).status == "merged"
    tip = git(origin, "rev-parse", "main").strip()
    result = agit.land_remote(a, "animus/A", "main", "merge", "land A", "run-a", base_sha=base_a)
    assert result.status == "conflict" and result.conflict_files == ["same.txt"]
    assert git(origin, "rev-parse", "main").strip() == tip

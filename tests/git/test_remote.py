"""push_branch against a local bare origin, ensure_pull_request against a fake `gh` that keeps state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from animus.domain.errors import GitError, Unavailable
from animus.git import commit_all, ensure_pull_request, prepare_worktree, push_branch, remote_branch_sha
from support.fake_gh import install_fake_gh

if TYPE_CHECKING:
    from conftest import Sandbox



@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    script, state = install_fake_gh(tmp_path / "bin", tmp_path / "gh-state.json")
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    return str(script), state


def _state(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _with_origin(sandbox: Sandbox) -> Path:
    origin = sandbox.base / "origin.git"
    sandbox.git("init", "-q", "--bare", str(origin))
    sandbox.git("remote", "add", "origin", str(origin))
    return origin


def test_push_branch_pushes_once_then_skips_until_the_branch_moves(sandbox: Sandbox) -> None:
    origin = _with_origin(sandbox)
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    commit_all(wt.path, "work", "run-1")
    first = push_branch(sandbox.root, wt.branch)
    again = push_branch(sandbox.root, wt.branch)
    assert (first.pushed, again.pushed) == (True, False)
    assert first.sha == again.sha == sandbox.sha(wt.branch)
    assert sandbox.git("rev-parse", f"refs/heads/{wt.branch}", cwd=origin) == first.sha
    sandbox.write("b.txt", "b\n", cwd=wt.path)
    commit_all(wt.path, "more", "run-2")
    assert push_branch(sandbox.root, wt.branch).pushed
    assert remote_branch_sha(sandbox.root, wt.branch) == sandbox.sha(wt.branch)


def test_push_of_rewritten_branch_needs_force_and_then_succeeds(sandbox: Sandbox) -> None:
    _with_origin(sandbox)
    wt = prepare_worktree(sandbox.root, "T1", sandbox.worktrees)
    sandbox.write("a.txt", "a\n", cwd=wt.path)
    commit_all(wt.path, "work", "run-1")
    push_branch(sandbox.root, wt.branch)
    sandbox.git("commit", "-q", "--amend", "-m", "rewritten", cwd=wt.path)
    with pytest.raises(GitError) as err:
        push_branch(sandbox.root, wt.branch)
    assert err.value.hint and "force" in err.value.hint
    assert push_branch(sandbox.root, wt.branch, force=True).pushed
    assert remote_branch_sha(sandbox.root, wt.branch) == sandbox.sha(wt.branch)


def test_push_to_missing_remote_is_a_git_error(sandbox: Sandbox) -> None:
    with pytest.raises(GitError, match="origin"):
        push_branch(sandbox.root, "main")


def test_ensure_pull_request_creates_once_and_reuses(sandbox: Sandbox, fake_gh: tuple[str, Path]) -> None:
    gh, state = fake_gh
    first = ensure_pull_request(sandbox.root, "animus/t1", "main", "[T1] Title", "Body\nwith lines", gh=gh)
    again = ensure_pull_request(sandbox.root, "animus/t1", "main", "[T1] Title", "Body\nwith lines", gh=gh)
    assert (first.number, first.created) == (1, True)
    assert first.url.endswith("/pull/1")
    assert (again.number, again.url, again.created) == (1, first.url, False)
    data = _state(state)
    assert [call[:2] for call in data["calls"]].count(["pr", "create"]) == 1
    assert data["prs"][0]["body"] == "Body\nwith lines"
    assert data["prs"][0]["title"] == "[T1] Title"


def test_closed_pull_request_is_not_reused_but_merged_one_is(sandbox: Sandbox, fake_gh: tuple[str, Path]) -> None:
    gh, state = fake_gh
    ensure_pull_request(sandbox.root, "animus/t1", "main", "t", "b", gh=gh)
    data = _state(state)
    data["prs"][0]["state"] = "CLOSED"
    state.write_text(json.dumps(data))
    reopened = ensure_pull_request(sandbox.root, "animus/t1", "main", "t", "b", gh=gh)
    assert (reopened.number, reopened.created) == (2, True)
    data = _state(state)
    data["prs"][1]["state"] = "MERGED"
    state.write_text(json.dumps(data))
    merged = ensure_pull_request(sandbox.root, "animus/t1", "main", "t", "b", gh=gh)
    assert (merged.number, merged.created, merged.state) == (2, False, "MERGED")


def test_pull_request_created_by_a_gh_that_then_failed_is_found(
    sandbox: Sandbox, fake_gh: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    gh, state = fake_gh
    monkeypatch.setenv("FAKE_GH_DIE_AFTER_CREATE", "1")
    pr = ensure_pull_request(sandbox.root, "animus/t1", "main", "t", "b", gh=gh)
    assert (pr.number, pr.created) == (1, False)
    assert len(_state(state)["prs"]) == 1


def test_missing_gh_is_unavailable(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="GitHub CLI"):
        ensure_pull_request(sandbox.root, "animus/t1", "main", "t", "b", gh=str(tmp_path / "no-gh"))

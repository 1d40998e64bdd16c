"""push_branch, fetch and remote URLs against local bare origins (pull requests: test_github.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import GitError, InvalidInput
from animus.git import (
    commit_all,
    fetch_branch,
    normalize_remote_url,
    prepare_worktree,
    push_branch,
    push_task_branch,
    remote_branch_sha,
    remote_url,
)

if TYPE_CHECKING:
    from conftest import Clones, Sandbox


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


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("git@github.com:Org/Repo.git", "github.com/org/repo"),
        ("ssh://git@github.com/Org/Repo", "github.com/org/repo"),
        ("ssh://git@github.com:22/Org/Repo.git", "github.com/org/repo"),
        ("https://user:tok@GitHub.com/Org/Repo.git/", "github.com/org/repo"),
        ("https://github.com:443/Org/Repo", "github.com/org/repo"),
        ("git://github.com/Org/Repo.git", "github.com/org/repo"),
        ("https://GitLab.com/Group/Sub/Proj.git", "gitlab.com/group/sub/proj"),
        ("git@bitbucket.org:Team/Repo.git", "bitbucket.org/team/repo"),
        ("https://Git.Example.com/Team/Proj.git", "git.example.com/Team/Proj"),  # case kept off the known hosts
        ("ssh://git@git.example.com:2222/Team/Proj.git", "git.example.com:2222/Team/Proj"),
        ("git.example.com:Team/Proj", "git.example.com/Team/Proj"),
        ("user:secret@git.example.com:Team/Proj", "git.example.com/Team/Proj"),
        ("ssh://[::1]:2222/srv/x.git", "[::1]:2222/srv/x"),
        ("https://github.com", "github.com"),
        ("file:///srv/git/project.git/", "file:/srv/git/project"),
        ("/srv/git/project.git", "file:/srv/git/project"),
        ("/srv/git/project/.git", "file:/srv/git/project"),
        ("file:///srv/git/with%20space.git", "file:/srv/git/with space"),
    ],
)
def test_normalize_remote_url(url: str, normal: str) -> None:
    assert normalize_remote_url(url) == normal
    assert "tok" not in normal and "secret" not in normal


def test_normalize_remote_url_resolves_local_paths_the_same_for_every_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "real" / "origin.git"
    bare.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    spellings = [str(bare), f"{bare}/", "real/origin.git", "link/origin.git", f"file://{tmp_path}/link/origin.git"]
    assert {normalize_remote_url(s) for s in spellings} == {f"file:{os.path.realpath(tmp_path)}/real/origin"}
    with pytest.raises(InvalidInput):
        normalize_remote_url("  ")


def test_remote_url_is_none_without_the_remote(sandbox: Sandbox) -> None:
    assert remote_url(sandbox.root) is None
    origin = _with_origin(sandbox)
    assert remote_url(sandbox.root) == str(origin)
    assert remote_url(sandbox.root, "upstream") is None


def test_fetch_branch_returns_the_remote_tip_or_none(clones: Clones) -> None:
    assert fetch_branch(clones.a, "animus/nobody") is None
    clones.work(clones.b, clones.wt_b, "t1", {"f.txt": "f\n"})
    pushed = push_task_branch(clones.b, "animus/t1")
    assert fetch_branch(clones.a, "animus/t1") == pushed.sha == clones.sha(clones.a, "refs/remotes/origin/animus/t1")
    clones.git(clones.origin, "branch", "-D", "animus/t1")
    assert fetch_branch(clones.a, "animus/t1") is None
    assert clones.git(clones.a, "for-each-ref", "refs/remotes/origin/animus") == ""  # no stale tracking ref
    with pytest.raises(GitError, match="fetch"):
        fetch_branch(clones.a, "main", "nowhere")


def test_push_task_branch_is_a_no_op_when_the_remote_has_the_commit(clones: Clones) -> None:
    wt = clones.work(clones.a, clones.wt_a, "t1", {"f.txt": "f\n"})
    first = push_task_branch(clones.a, "animus/t1")
    again = push_task_branch(clones.a, "animus/t1")
    assert (first.pushed, again.pushed) == (True, False)
    assert first.sha == again.sha == clones.sha(clones.origin, "animus/t1")
    clones.git(wt, "commit", "-q", "--amend", "-m", "rewritten")  # a rebase landing rewrites the branch
    rewritten = push_task_branch(clones.a, "animus/t1")
    assert rewritten.pushed and clones.sha(clones.origin, "animus/t1") == clones.sha(wt, "HEAD") != first.sha


def test_push_task_branch_refuses_other_branches(clones: Clones) -> None:
    with pytest.raises(InvalidInput, match="task branch"):
        push_task_branch(clones.a, "main")

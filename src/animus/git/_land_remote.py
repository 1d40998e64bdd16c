"""Landing onto the remote's target branch: what several hosts of one fleet do (docs/scaling.md).

The remote's branch is the truth there, not a clone's: each attempt fetches the remote tip, merges
(squashes, rebases) the task branch onto it in a temporary detached worktree and pushes the result
without force. A rejected push means another host landed in between: fetch again and redo it on
the new tip. The landing commit carries the run's ``Animus-Land`` trailer, so a replay after a crash
(the push happened, its result was never recorded) finds it on the remote and lands nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from animus.domain.errors import GitError, InvalidInput, NotFound
from animus.git._command import _NETWORK_TIMEOUT, _find_trailer_commit, _git_failure, _run_git, _with_trailer
from animus.git._land import (
    LAND_TRAILER,
    LandResult,
    LandStrategy,
    _find_landing,
    _merge,
    _rebase_in,
    _scratch_dir,
    _slug,
    _temporary_worktree,
)
from animus.git._lock import _locked
from animus.git._repo import Repo
from animus.git._worktree import _find_worktree

_REMOTE_ATTEMPTS = 10


def _fetch_tip(repo: Repo, remote: str, branch: str) -> str | None:
    """Fetch ``branch`` from ``remote`` into ``refs/remotes/<remote>/<branch>``; its sha, or None when absent."""
    tracking = f"refs/remotes/{remote}/{branch}"
    result = _run_git(["fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}"], repo.root,
                      check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        if "couldn't find remote ref" in result.stderr.lower():
            return None
        raise _git_failure(result, repo.root, what=f"fetch of {branch!r} from {remote!r}")
    return repo.head_sha(tracking)


@_locked
def land_remote(
    repo_root: Path,
    branch: str,
    target_branch: str,
    strategy: LandStrategy,
    message: str,
    land_id: str,
    *,
    remote: str = "origin",
    worktrees_dir: Path | None = None,
    base_sha: str | None = None,
    attempts: int = _REMOTE_ATTEMPTS,
) -> LandResult:
    """Land ``branch`` on ``remote``'s ``target_branch``, exactly once, however many hosts land at the same time.

    ``conflict`` (nothing pushed) when the branch does not merge onto the remote tip;
    ``nothing_to_land`` when it has no commit beyond ``base_sha``. After a successful push the local
    ``target_branch`` is brought along where that is safe — a ref update when it is checked out
    nowhere and the new tip descends from it, a fast-forward where it is checked out in a clean
    worktree — and left alone otherwise (the remote is the truth; a ``git pull`` catches it up).
    """
    if strategy not in get_args(LandStrategy):
        raise InvalidInput(f"unknown landing strategy {strategy!r}", hint="use merge, squash or rebase")
    if branch == target_branch:
        raise InvalidInput(f"cannot land branch {branch!r} on itself")
    repo = Repo(Path(repo_root))
    for _ in range(max(1, attempts)):
        tip = _fetch_tip(repo, remote, target_branch)
        if tip is None:
            raise NotFound(f"{remote!r} has no branch {target_branch!r}", hint=f"push it first: `git push {remote} {target_branch}`")
        if not repo.branch_exists(branch):
            found = _find_trailer_commit(repo.root, LAND_TRAILER, land_id, [tip])
            if found is not None:
                return LandResult("already_merged", found)
            raise NotFound(f"branch {branch!r} does not exist in {repo.root}")
        branch_tip = repo.head_sha(f"refs/heads/{branch}")
        done = _find_landing(repo, branch_tip, tip, land_id)
        if done is not None:
            _bring_local_along(repo, target_branch, tip)
            return LandResult("already_merged", done)
        if base_sha is not None and repo.is_ancestor(branch_tip, base_sha):
            return LandResult("nothing_to_land", None)
        scratch = worktrees_dir or _scratch_dir(repo, branch)
        with _temporary_worktree(repo, scratch, f".land-remote-{_slug(land_id)}", tip) as tmp:
            if strategy == "rebase":
                _run_git(["reset", "--hard", "--quiet", branch_tip], tmp)
                rebased = _rebase_in(tmp, tip)
                if isinstance(rebased, LandResult):
                    return rebased
                new = rebased
            else:
                full = _with_trailer(message, LAND_TRAILER, land_id, repo.root)
                result = _merge(tmp, strategy, branch_tip, tip, full)
                if result.status != "merged" or result.sha is None:
                    return result
                new = result.sha
        if _push(repo, remote, new, target_branch):
            _run_git(["update-ref", f"refs/remotes/{remote}/{target_branch}", new], repo.root)
            if strategy == "rebase":
                _run_git(["update-ref", f"refs/heads/{branch}", new, branch_tip], repo.root, check=False)
            _bring_local_along(repo, target_branch, new)
            return LandResult("merged", new)
    raise GitError(
        f"{remote}/{target_branch} kept moving while {branch!r} was being landed ({attempts} attempts)",
        hint="other hosts are landing very fast; the run retries its landing when resumed",
    )


def _push(repo: Repo, remote: str, sha: str, target: str) -> bool:
    """Push ``sha`` to ``remote``'s ``target`` without force; False when rejected (the remote moved on)."""
    result = _run_git(["push", "--porcelain", "--no-verify", remote, f"{sha}:refs/heads/{target}"], repo.root,
                      check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode == 0:
        return True
    text = result.stdout + result.stderr
    if "rejected" in text or "non-fast-forward" in text or "fetch first" in text or "failed to update ref" in text:
        return False
    raise _git_failure(result, repo.root, what=f"push of {target!r} to {remote!r}")


def _bring_local_along(repo: Repo, target: str, new: str) -> None:
    """Move the local ``target`` to ``new`` where that cannot lose anything; leave it otherwise."""
    if not repo.branch_exists(target):
        return
    old = repo.head_sha(f"refs/heads/{target}")
    if old == new or not repo.is_ancestor(old, new):
        return
    holder = _find_worktree(repo.root, branch=target)
    if holder is None:
        _run_git(["update-ref", f"refs/heads/{target}", new, old], repo.root, check=False)
        return
    if holder.prunable or repo.dirty_files(holder.path, untracked=False):
        return
    _run_git(["merge", "--ff-only", "--quiet", "--no-autostash", new], holder.path, check=False)


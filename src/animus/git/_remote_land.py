"""Landing when the target branch's truth is a remote that several hosts land onto at once."""

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
    _move_ref,
    _operation_in_progress,
    _rebase,
    _scratch_dir,
    _slug,
    _temporary_worktree,
)
from animus.git._lock import _locked
from animus.git._remote import fetch_branch
from animus.git._repo import Repo
from animus.git._worktree import _find_worktree

# What a push says when the remote branch moved since we looked (another host landed): worth a retry.
# ``[remote rejected]`` for other reasons (a hook, a protected branch) never gets better and is an error.
_RACE_SIGNS = ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref", "cannot lock ref")


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
    attempts: int = 10,
) -> LandResult:
    """Land ``branch`` on ``remote``'s ``target_branch``; a replay finds the landing there and lands nothing.

    Each attempt fetches the remote tip, looks for this landing on it (the ``Animus-Land`` trailer, or
    the branch tip already contained), merges or squashes (with the trailer) or rebases the branch onto
    that tip in a temporary detached worktree, and pushes the result without force. A rejected push
    means another host landed first: the next attempt starts from the new tip. A push that went
    through but whose answer was lost is found by the trailer check of the next call, so a replay
    after a crash at any point never lands twice. A conflict is aborted and reported as ``conflict``,
    nothing pushed. ``nothing_to_land`` as in ``land`` when the branch has no commit beyond ``base_sha``.

    After a landing ``refs/remotes/<remote>/<target>`` is updated, and the local target branch follows
    when that cannot lose anything: moved by compare-and-swap when it is checked out nowhere, or
    fast-forwarded in its worktree when that is clean and has no operation in progress. A local target
    with commits of its own, or a checkout with changes, is left alone (the remote is the truth; the
    user's tree is theirs). With the rebase strategy the local task branch is rebased as in ``land``.
    """
    if strategy not in get_args(LandStrategy):
        raise InvalidInput(f"unknown landing strategy {strategy!r}", hint="use merge, squash or rebase")
    if branch == target_branch:
        raise InvalidInput(f"cannot land branch {branch!r} on itself")
    if attempts < 1:
        raise InvalidInput(f"attempts must be at least 1, not {attempts}")
    repo = Repo(Path(repo_root))
    if not repo.branch_exists(branch):
        # the task branch may be deleted after landing; the trailer still proves a merge or squash
        tip = _fetch_target(repo, target_branch, remote)
        found = _find_trailer_commit(repo.root, LAND_TRAILER, land_id, [tip])
        if found is not None:
            _follow(repo, target_branch, tip, land_id)
            return LandResult("already_merged", found)
        raise NotFound(f"branch {branch!r} does not exist in {repo.root}")
    if base_sha is not None and repo.is_ancestor(f"refs/heads/{branch}", base_sha):
        return LandResult("nothing_to_land", None)
    scratch = worktrees_dir or _scratch_dir(repo, branch)
    for _ in range(attempts):
        target_tip = _fetch_target(repo, target_branch, remote)
        branch_tip = repo.head_sha(f"refs/heads/{branch}")
        done = _find_landing(repo, branch_tip, target_tip, land_id)
        if done is not None:
            _follow(repo, target_branch, target_tip, land_id)
            return LandResult("already_merged", done)
        result = _land_onto(repo, branch, branch_tip, target_tip, strategy, message, land_id, scratch)
        if result.status == "already_merged":
            _follow(repo, target_branch, target_tip, land_id)
        if result.status != "merged" or result.sha is None:
            return result
        if _push_fast_forward(repo, remote, target_branch, result.sha):
            tracking = f"refs/remotes/{remote}/{target_branch}"
            _run_git(["update-ref", "-m", f"animus: land {land_id}", tracking, result.sha], repo.root)
            _follow(repo, target_branch, result.sha, land_id)
            return result
    raise GitError(
        f"{remote}/{target_branch} moved {attempts} times while {branch!r} was being landed on it",
        hint="other hosts keep landing there; retry the landing when they are done",
    )


def _fetch_target(repo: Repo, target: str, remote: str) -> str:
    tip = fetch_branch(repo.root, target, remote)
    if tip is None:
        raise NotFound(
            f"remote {remote!r} has no branch {target!r} to land on",
            hint=f"push it first: git push {remote} {target}",
        )
    return tip


def _land_onto(
    repo: Repo,
    branch: str,
    branch_tip: str,
    target_tip: str,
    strategy: LandStrategy,
    message: str,
    land_id: str,
    scratch: Path,
) -> LandResult:
    """The landing commit on top of ``target_tip``, made without touching any branch but (rebase) the task's."""
    if strategy == "rebase":
        rebased = _rebase(repo, branch, branch_tip, target_tip, scratch, land_id)
        return rebased if isinstance(rebased, LandResult) else LandResult("merged", rebased)
    full = _with_trailer(message, LAND_TRAILER, land_id, repo.root)
    with _temporary_worktree(repo, scratch, f".land-{_slug(land_id)}", target_tip) as tmp:
        return _merge(tmp, strategy, branch_tip, target_tip, full)


def _push_fast_forward(repo: Repo, remote: str, target: str, sha: str) -> bool:
    """Push ``sha`` to ``remote``'s ``target`` as a fast-forward; False when the remote moved meanwhile."""
    args = ["push", "--porcelain", "--no-verify", remote, f"{sha}:refs/heads/{target}"]
    result = _run_git(args, repo.root, check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode == 0:
        return True
    said = result.stdout + result.stderr
    if any(sign in said for sign in _RACE_SIGNS):
        return False
    raise _git_failure(result, repo.root, what=f"push of the landing to {remote}/{target}")


def _follow(repo: Repo, target: str, tip: str, land_id: str) -> None:
    """Bring the local ``target`` branch to ``tip`` when it is behind and moving it loses nothing."""
    ref = f"refs/heads/{target}"
    if not repo.branch_exists(target):
        return
    local = repo.head_sha(ref)
    if local == tip or not repo.is_ancestor(local, tip):
        return  # already there, or it has commits of its own: left for the user
    holder = _find_worktree(repo.root, branch=target)
    if holder is not None and holder.prunable:
        _run_git(["worktree", "prune"], repo.root)
        holder = None
    if holder is None:
        _move_ref(repo, ref, tip, local, land_id)  # a lost race leaves it as someone else set it
        return
    if (
        holder.branch != target
        or _operation_in_progress(holder.path)
        or not repo.is_clean(holder.path, untracked=False)
    ):
        return
    # refuses by itself (and changes nothing) when an untracked file is in the way
    _run_git(["merge", "--ff-only", "--no-autostash", "--quiet", tip], holder.path, check=False)

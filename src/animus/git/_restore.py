"""Taking a task over on another host: its worktree restored from the branch the previous host pushed."""

from __future__ import annotations

from pathlib import Path

from animus.domain.errors import Conflict, GitError
from animus.git._command import _NETWORK_TIMEOUT, _run_git
from animus.git._land import _operation_in_progress
from animus.git._lock import _locked
from animus.git._remote import fetch_branch
from animus.git._repo import Repo
from animus.git._worktree import (
    Worktree,
    _add_worktree,
    _require_free,
    _require_holds,
    _settle,
    _task_path,
    branch_for_task,
)


@_locked
def restore_worktree(
    repo_root: Path, task_id: str, worktrees_dir: Path, *, base_sha: str, remote: str = "origin"
) -> Worktree:
    """Make ``worktrees_dir/<task_id>`` a worktree with the task branch at the commit ``remote`` holds for it.

    The remote's task branch is the truth for a run taken over from another host; when nobody pushed
    one, the branch starts at ``base_sha`` (fetched from the remote when missing here; GitError when
    the remote lacks it too). A local branch that differs is moved to that commit when it is an
    ancestor of it (in its worktree, by fast-forward) or when its worktree does not exist (its old tip
    stays in the reflog); an existing worktree already at that commit or beyond is reused unchanged,
    and one whose branch diverged from it is a Conflict (nothing is touched). Every step checks the
    world first, so a replay after a crash at any point finishes the job; the half-made worktrees a
    killed ``git worktree add`` leaves are handled as ``prepare_worktree`` handles them.
    """
    repo = Repo(Path(repo_root))
    path = _task_path(task_id, worktrees_dir)
    branch = branch_for_task(task_id)
    ref = f"refs/heads/{branch}"
    pushed = fetch_branch(repo.root, branch, remote)
    base = _resolve_commit(repo, base_sha, remote)
    want = pushed or base
    entries, entry = _settle(repo, path, Path(worktrees_dir))
    if entry is not None:
        _require_holds(entry, path, branch)
        local = repo.head_sha(ref)
        if repo.is_ancestor(want, local):
            return Worktree(path, branch, base, created=False)
        if not repo.is_ancestor(local, want):
            raise Conflict(
                f"task branch {branch!r} in {path} has commits that {remote}/{branch} lacks, and lacks some it has",
                details={"local": local, "remote": want, "worktree": str(path)},
                hint=f"reconcile the two there (or remove the worktree to take {remote}'s version), then retry",
            )
        busy = _operation_in_progress(path) if entry.branch == branch else "rebase"
        if busy:
            raise Conflict(
                f"cannot bring {path} up to {want[:12]}: a {busy} is in progress there",
                hint="finish or abort it there, then retry",
            )
        result = _run_git(["merge", "--ff-only", "--no-autostash", want], path, check=False)
        if result.returncode != 0:
            raise Conflict(
                f"cannot fast-forward {path} to {want[:12]}: local changes there would be overwritten",
                details={"stderr": result.stderr[-4000:]},
                hint="commit or discard them there, then retry",
            )
        return Worktree(path, branch, base, created=False)
    _require_free(entries, branch)
    if not repo.branch_exists(branch):
        _add_worktree(repo, path, branch, Path(worktrees_dir), entries, want)
        return Worktree(path, branch, base, created=True)
    local = repo.head_sha(ref)
    if local != want:
        moved = _run_git(
            ["update-ref", "-m", f"animus: restore {task_id} from {remote}", ref, want, local], repo.root, check=False
        )
        if moved.returncode != 0:
            raise GitError(f"branch {branch!r} moved while it was being restored", hint="retry")
    _add_worktree(repo, path, branch, Path(worktrees_dir), entries, None)
    return Worktree(path, branch, base, created=True)


def _resolve_commit(repo: Repo, sha: str, remote: str) -> str:
    """The full sha of commit ``sha``, fetched from ``remote`` when this clone lacks it.

    First by its sha (servers allow that for reachable commits), then every branch of the remote.
    """
    for fetch in (
        None,
        ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, sha],
        ["fetch", "--quiet", "--no-tags", remote],
    ):
        if fetch is not None:
            _run_git(fetch, repo.root, check=False, timeout=_NETWORK_TIMEOUT)
        found = _run_git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{sha}^{{commit}}"], repo.root, check=False
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    raise GitError(
        f"base commit {sha!r} is neither in {repo.root} nor on remote {remote!r}",
        hint=f"push the task's target branch to {remote} from the host that started the task, then retry",
    )

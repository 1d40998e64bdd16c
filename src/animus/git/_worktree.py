"""Task worktrees: one branch and one directory per task, prepared and removed idempotently."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animus import procs
from animus.domain.errors import Conflict, GitError, InvalidInput, NotFound
from animus.git._command import _out, _run_git
from animus.git._lock import _locked
from animus.git._repo import Repo

BRANCH_PREFIX = "animus/"
_INITIALIZING = "initializing"  # the lock reason `git worktree add` leaves when it is killed half-way


@dataclass(frozen=True)
class Worktree:
    """A prepared task worktree. ``base_sha`` is where the branch forked from the target branch."""

    path: Path
    branch: str
    base_sha: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "branch": self.branch, "base_sha": self.base_sha, "created": self.created}


@dataclass(frozen=True)
class WorktreeEntry:
    """One line of ``git worktree list``: path, HEAD, branch (None when detached) and lock/prune state."""

    path: Path
    head: str | None
    branch: str | None
    locked: str | None = None
    prunable: bool = False
    bare: bool = False
    rebasing: str | None = None  # the branch a rebase in progress will move (HEAD is detached meanwhile)

    def holds(self, branch: str) -> bool:
        """Whether ``branch`` is checked out here, or being rebased here."""
        return branch in (self.branch, self.rebasing)


def branch_for_task(task_id: str) -> str:
    """The task's branch: ``animus/`` + the id lowercased, anything outside ``[a-z0-9._-]`` as ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", task_id.strip().lower()).strip("-.")
    if not slug:
        raise InvalidInput(f"task id {task_id!r} gives no usable branch name")
    return BRANCH_PREFIX + slug


def list_worktrees(repo_root: Path) -> list[WorktreeEntry]:
    """Every worktree git knows for the repository, the main one first."""
    entries: list[WorktreeEntry] = []
    fields: dict[str, str] = {}
    text = _out(["worktree", "list", "--porcelain", "-z"], Path(repo_root))
    for line in [*text.split("\0"), ""]:
        if line:
            key, _, value = line.partition(" ")
            fields[key] = value
            continue
        if "worktree" in fields:
            branch = fields.get("branch")
            entries.append(
                WorktreeEntry(
                    path=Path(fields["worktree"]),
                    head=fields.get("HEAD"),
                    branch=branch.removeprefix("refs/heads/") if branch else None,
                    locked=fields.get("locked") if "locked" in fields else None,
                    prunable="prunable" in fields,
                    bare="bare" in fields,
                    rebasing=None if branch or "prunable" in fields else _rebasing(Path(fields["worktree"])),
                )
            )
        fields = {}
    return entries


def _entry_at(entries: list[WorktreeEntry], path: Path) -> WorktreeEntry | None:
    real = _real(path)
    return next((e for e in entries if _real(e.path) == real), None)


def _find_worktree(repo_root: Path, *, path: Path | None = None, branch: str | None = None) -> WorktreeEntry | None:
    """The registered worktree at ``path`` or with ``branch`` checked out, if any."""
    want = _real(path) if path is not None else None
    for entry in list_worktrees(repo_root):
        if want is not None and _real(entry.path) == want:
            return entry
        if branch is not None and entry.holds(branch):
            return entry
    return None


@_locked
def prepare_worktree(repo_root: Path, task_id: str, worktrees_dir: Path, target_branch: str | None = None) -> Worktree:
    """Make sure ``worktrees_dir/<task_id>`` is a worktree with the task branch checked out.

    Safe to call again after a crash at any point: an existing worktree on the branch is reused, a
    branch whose directory vanished gets its directory back, and a directory left half-made by a
    killed ``git worktree add`` is removed and made again. Nothing outside ``worktrees_dir`` is deleted.
    """
    repo = Repo(Path(repo_root))
    path = _task_path(task_id, worktrees_dir)
    branch = branch_for_task(task_id)
    target = target_branch or _checked_out_branch(repo)
    try:
        target_sha = repo.head_sha(f"refs/heads/{target}")
    except GitError:
        raise NotFound(f"target branch {target!r} does not exist in {repo.root}", hint="create it or name another") from None
    entries, entry = _settle(repo, path, Path(worktrees_dir))
    if entry is not None:
        _require_holds(entry, path, branch)
        return Worktree(path, branch, _base(repo, target_sha, branch), created=False)
    _require_free(entries, branch)
    if repo.branch_exists(branch):
        _add_worktree(repo, path, branch, Path(worktrees_dir), entries, None)
        return Worktree(path, branch, _base(repo, target_sha, branch), created=True)
    _add_worktree(repo, path, branch, Path(worktrees_dir), entries, target_sha)
    return Worktree(path, branch, target_sha, created=True)  # a branch made at target_sha forks there


def _task_path(task_id: str, worktrees_dir: Path) -> Path:
    """``worktrees_dir/<task_id>``, refusing ids that would name another directory."""
    if not task_id or task_id in (".", "..") or "/" in task_id or "\\" in task_id or "\0" in task_id:
        raise InvalidInput(f"task id {task_id!r} cannot name a worktree directory")
    return Path(worktrees_dir) / task_id


def _settle(repo: Repo, path: Path, worktrees_dir: Path) -> tuple[list[WorktreeEntry], WorktreeEntry | None]:
    """The worktree list, and the usable worktree registered at ``path`` (if any), after crash cleanup.

    A registration whose directory vanished is pruned; a worktree a killed ``git worktree add`` left
    ``initializing`` is removed. One look at the list serves every check (each git process costs ms).
    """
    entries = list_worktrees(repo.root)
    entry = _entry_at(entries, path)
    if entry is not None and (entry.prunable or not path.exists()):
        _run_git(["worktree", "prune"], repo.root)
        entry = None
    if entry is not None and entry.locked is not None and entry.locked.strip() == _INITIALIZING:
        _run_git(["worktree", "unlock", str(entry.path)], repo.root, check=False)
        _run_git(["worktree", "remove", "--force", str(entry.path)], repo.root, check=False)
        _run_git(["worktree", "prune"], repo.root)
        _remove_inside(path, worktrees_dir)
        entry = None
    if entry is None and _entry_at(entries, path) is not None:
        entries = list_worktrees(repo.root)  # the entry at ``path`` was pruned or removed above: look again
    return entries, entry


def _require_holds(entry: WorktreeEntry, path: Path, branch: str) -> None:
    """Conflict unless the worktree at ``path`` has ``branch`` checked out (or is rebasing it)."""
    if not entry.holds(branch):
        on = f"branch {entry.branch!r}" if entry.branch else "a detached HEAD"
        raise Conflict(
            f"worktree {path} has {on} checked out, not the task branch {branch!r}",
            hint=f"run `git -C {path} checkout {branch}`, or remove the worktree and retry",
        )


def _require_free(entries: list[WorktreeEntry], branch: str) -> None:
    """Conflict when ``branch`` is checked out in a live worktree (git allows it in one place only)."""
    elsewhere = next((e for e in entries if e.holds(branch)), None)
    if elsewhere is not None and not elsewhere.prunable:
        raise Conflict(
            f"branch {branch!r} is already checked out at {elsewhere.path}",
            hint=f"check out another branch there, or run `git worktree remove {elsewhere.path}`",
        )


def _add_worktree(
    repo: Repo, path: Path, branch: str, worktrees_dir: Path, entries: list[WorktreeEntry], start: str | None
) -> None:
    """``git worktree add`` at ``path``: the existing ``branch`` (``start`` None) or a new one made at ``start``.

    Stale registrations are pruned and a leftover directory at ``path`` is removed first, if it is ours.
    """
    if any(e.prunable for e in entries):
        _run_git(["worktree", "prune"], repo.root)
    if os.path.lexists(path):
        _remove_leftover(repo, path, worktrees_dir)
    procs.private_dir(worktrees_dir)  # 0700 shuts the worktrees; their files keep the user's umask
    if start is None:
        _run_git(["worktree", "add", str(path), branch], repo.root)
    else:
        _run_git(["worktree", "add", "--no-track", "-b", branch, str(path), start], repo.root)


@_locked
def remove_worktree(
    repo_root: Path, worktree_path: Path, branch: str | None = None, delete_branch: bool = False
) -> bool:
    """Remove a task worktree (uncommitted changes in it are discarded), then optionally its branch.

    Returns whether a worktree was removed; a worktree that is already gone is not an error.
    The main worktree and worktrees the user locked are never removed.
    """
    repo = Repo(Path(repo_root))
    path = Path(worktree_path)
    entry = _find_worktree(repo.root, path=path)
    removed = False
    if entry is not None:
        if _real(entry.path) == _real(repo.main_worktree):
            raise InvalidInput(f"{path} is the main working tree of the repository; animus never removes it")
        if entry.locked is not None and entry.locked.strip() != _INITIALIZING:
            raise Conflict(
                f"worktree {path} is locked ({entry.locked or 'no reason given'})",
                hint=f"run `git worktree unlock {path}` if it may be removed",
            )
        if path.exists():
            result = _run_git(["worktree", "remove", "--force", "--force", str(path)], repo.root, check=False)
            if result.returncode != 0 and path.exists():
                # a removal killed half-way leaves a directory git no longer accepts as a worktree
                shutil.rmtree(path)
        removed = True
    elif os.path.lexists(path):
        if not _points_into(path, repo.common_dir):
            raise Conflict(
                f"{path} exists but is not a worktree of {repo.root}; animus leaves it alone",
                hint="remove it yourself if it is not needed",
            )
        shutil.rmtree(path)
        removed = True
    _run_git(["worktree", "prune"], repo.root)
    if delete_branch and branch and repo.branch_exists(branch):
        holder = _find_worktree(repo.root, branch=branch)
        if holder is not None:
            raise Conflict(f"branch {branch!r} is checked out at {holder.path}; not deleting it")
        _run_git(["branch", "-D", branch], repo.root)
    return removed


@_locked
def prune_worktrees(repo_root: Path) -> None:
    """Forget worktrees whose directories were deleted (``git worktree prune``)."""
    _run_git(["worktree", "prune"], Path(repo_root))


def _rebasing(path: Path) -> str | None:
    for name in ("rebase-merge/head-name", "rebase-apply/head-name"):
        result = _run_git(["rev-parse", "--path-format=absolute", "--git-path", name], path, check=False)
        head_name = Path(result.stdout.strip())
        if result.returncode == 0 and head_name.is_file():
            return head_name.read_text(errors="replace").strip().removeprefix("refs/heads/") or None
    return None


def _checked_out_branch(repo: Repo) -> str:
    main = repo.main_worktree
    Repo(main).head_sha("HEAD")  # a repository without commits fails here, with its own remedy
    branch = repo.current_branch(main)
    if branch is None:
        raise GitError(
            f"HEAD is detached in {main}, so there is no branch to start the task from",
            hint="check out a branch there, or name the target branch explicitly",
        )
    return branch


def _base(repo: Repo, target_sha: str, branch: str) -> str:
    return repo.merge_base(target_sha, f"refs/heads/{branch}") or target_sha


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, parent: Path) -> bool:
    real_parent = _real(parent)
    real = _real(path.parent) / path.name
    return real != real_parent and real_parent in real.parents


def _remove_inside(path: Path, worktrees_dir: Path) -> None:
    if not os.path.lexists(path):
        return
    if not _inside(path, worktrees_dir):
        raise Conflict(f"refusing to delete {path}: it is not inside the worktrees directory {worktrees_dir}")
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def _remove_leftover(repo: Repo, path: Path, worktrees_dir: Path) -> None:
    """Delete a directory at the worktree path that git does not know, if it is ours to delete."""
    dotgit = path / ".git"
    if dotgit.is_dir() or (dotgit.is_file() and not _points_into(path, repo.common_dir)):
        raise Conflict(
            f"{path} holds another git repository or another repository's worktree; animus will not delete it",
            hint="move it away, then retry",
        )
    _remove_inside(path, worktrees_dir)


def _points_into(path: Path, common_dir: Path) -> bool:
    """Whether ``path/.git`` is a gitdir file pointing into ``common_dir`` (a worktree of this repository)."""
    try:
        text = (path / ".git").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    target = text.strip().removeprefix("gitdir:").strip()
    return bool(target) and _real(common_dir) in _real(Path(target)).parents

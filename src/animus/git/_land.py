"""Landing a task branch on its target branch (merge, squash or rebase), idempotent and never half-done."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from animus import procs
from animus.domain.errors import Conflict, GitError, InvalidInput, NotFound
from animus.git._command import (
    _find_trailer_commit,
    _git_failure,
    _identity_config,
    _out,
    _run_git,
    _split_z,
    _with_trailer,
)
from animus.git._lock import _locked
from animus.git._repo import Repo
from animus.git._worktree import _find_worktree, remove_worktree

LandStrategy = Literal["merge", "squash", "rebase"]
LandStatus = Literal["merged", "already_merged", "nothing_to_land", "conflict"]
LAND_TRAILER = "Animus-Land"
_ATTEMPTS = 3  # the target may move under us (another landing); each retry starts from a fresh look


@dataclass(frozen=True)
class LandResult:
    """``merged`` (sha = the new target tip), ``already_merged`` (sha = the landing found), ``conflict``, or
    ``nothing_to_land`` (sha None: the branch has no commit beyond its base, so the target is left as it was)."""

    status: LandStatus
    sha: str | None
    conflict_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "sha": self.sha, "conflict_files": list(self.conflict_files)}


@_locked
def land(
    repo_root: Path,
    branch: str,
    target_branch: str,
    strategy: LandStrategy,
    message: str,
    land_id: str,
    *,
    worktrees_dir: Path | None = None,
    base_sha: str | None = None,
) -> LandResult:
    """Bring ``branch`` into ``target_branch``; a replay finds the landing and returns ``already_merged``.

    Where the target is checked out, the landing happens in that working tree, and only when it has no
    staged or unstaged change and no untracked (or ignored) file the landing would overwrite; otherwise
    Conflict names the files and nothing is touched. Where it is checked out nowhere, the merge runs in a
    temporary detached worktree under ``worktrees_dir`` and the branch moves by compare-and-swap.
    A merge conflict is aborted and reported as ``conflict`` with everything left as it was.
    With ``base_sha`` (where the task branch forked), a branch with no commit beyond it is
    ``nothing_to_land``: reporting the target tip as "landed" would claim work that never happened.
    """
    if strategy not in get_args(LandStrategy):
        raise InvalidInput(f"unknown landing strategy {strategy!r}", hint="use merge, squash or rebase")
    if branch == target_branch:
        raise InvalidInput(f"cannot land branch {branch!r} on itself")
    repo = Repo(Path(repo_root))
    if not repo.branch_exists(target_branch):
        raise NotFound(f"target branch {target_branch!r} does not exist in {repo.root}")
    if not repo.branch_exists(branch):
        # the task branch may be deleted after landing; the trailer still proves a merge or squash
        found = _find_trailer_commit(repo.root, LAND_TRAILER, land_id, [f"refs/heads/{target_branch}"])
        if found is not None:
            return LandResult("already_merged", found)
        raise NotFound(f"branch {branch!r} does not exist in {repo.root}")
    if base_sha is not None and repo.is_ancestor(f"refs/heads/{branch}", base_sha):  # one git process
        # No landing of this run can exist then: a merge or squash of no commits makes no commit.
        return LandResult("nothing_to_land", None)
    for _ in range(_ATTEMPTS):
        result = _land_once(repo, branch, target_branch, strategy, message, land_id, worktrees_dir)
        if result is not None:
            return result
    raise GitError(
        f"{target_branch!r} kept moving while {branch!r} was being landed",
        hint="retry when other landings on that branch have finished",
    )


def _land_once(
    repo: Repo,
    branch: str,
    target: str,
    strategy: LandStrategy,
    message: str,
    land_id: str,
    worktrees_dir: Path | None,
) -> LandResult | None:
    branch_tip = repo.head_sha(f"refs/heads/{branch}")
    target_tip = repo.head_sha(f"refs/heads/{target}")
    done = _find_landing(repo, branch_tip, target_tip, land_id)
    if done is not None:
        return LandResult("already_merged", done)
    holder = _find_worktree(repo.root, branch=target)
    if holder is not None and holder.prunable:
        _run_git(["worktree", "prune"], repo.root)
        holder = None
    if holder is not None:
        _undo_own_interrupted_landing(holder.path, branch_tip, target_tip, land_id)
        _require_safe_checkout(repo, holder.path, target, branch, target_tip, branch_tip)
    scratch = worktrees_dir or _scratch_dir(repo, branch)
    if strategy == "rebase":
        rebased = _rebase(repo, branch, branch_tip, target_tip, scratch, land_id)
        if isinstance(rebased, LandResult):
            return rebased
        if holder is not None:
            _run_git(["merge", "--ff-only", "--no-autostash", rebased], holder.path)
            return LandResult("merged", rebased)
        if not _move_ref(repo, f"refs/heads/{target}", rebased, target_tip, land_id):
            return None
        return LandResult("merged", rebased)
    full = _with_trailer(message, LAND_TRAILER, land_id, repo.root)
    if holder is not None:
        return _merge(holder.path, strategy, branch_tip, target_tip, full)
    with _temporary_worktree(repo, scratch, f".land-{_slug(land_id)}", target_tip) as tmp:
        result = _merge(tmp, strategy, branch_tip, target_tip, full)
        if result.status == "merged" and result.sha is not None:
            if not _move_ref(repo, f"refs/heads/{target}", result.sha, target_tip, land_id):
                return None
        return result


def _find_landing(repo: Repo, branch_tip: str, target_tip: str, land_id: str) -> str | None:
    """The commit on the target that shows this landing happened, or None."""
    base = repo.merge_base(branch_tip, target_tip)
    revs = [f"{base}..{target_tip}"] if base else [target_tip]
    found = _find_trailer_commit(repo.root, LAND_TRAILER, land_id, revs)
    if found is not None:
        return found
    if repo.is_ancestor(branch_tip, target_tip):
        return branch_tip
    return None


def _undo_own_interrupted_landing(path: Path, branch_tip: str, target_tip: str, land_id: str) -> None:
    """Abort a merge or squash this landing left half-done when it was killed (it was started on a clean tree).

    Recognised by git's own notes: MERGE_HEAD at the branch tip with our trailer in MERGE_MSG, or a
    SQUASH_MSG listing the branch tip. ``git reset --merge`` refuses rather than drop later edits.
    """
    merge_head = _git_path_text(path, "MERGE_HEAD")
    if merge_head is not None:
        if merge_head.strip() == branch_tip and f"{LAND_TRAILER}: {land_id}" in (
            _git_path_text(path, "MERGE_MSG") or ""
        ):
            _run_git(["merge", "--abort"], path)
        return
    squash_msg = _git_path_text(path, "SQUASH_MSG")
    if squash_msg is not None and f"commit {branch_tip}" in squash_msg and _head(path) == target_tip:
        if _run_git(["reset", "--merge"], path, check=False).returncode == 0:
            _drop_squash_msg(path)


def _undo_own_interrupted_rebase(path: Path, branch_tip: str, target_tip: str) -> None:
    """Abort a rebase of the task branch onto the target that a killed landing left in ``path``."""
    orig = _git_path_text(path, "rebase-merge/orig-head")
    onto = _git_path_text(path, "rebase-merge/onto")
    if orig is not None and onto is not None and orig.strip() == branch_tip and onto.strip() == target_tip:
        _run_git(["rebase", "--abort"], path)


def _git_path_text(path: Path, name: str) -> str | None:
    try:
        return Path(_out(["rev-parse", "--path-format=absolute", "--git-path", name], path)).read_text(errors="replace")
    except OSError:
        return None


def _head(path: Path) -> str:
    return _out(["rev-parse", "HEAD"], path)


def _require_safe_checkout(repo: Repo, path: Path, target: str, branch: str, target_tip: str, branch_tip: str) -> None:
    """Refuse (Conflict, nothing touched) when landing would mix with the user's work in ``path``."""
    busy = _operation_in_progress(path)
    if busy:
        raise Conflict(
            f"cannot land {branch!r} into {target!r}: a {busy} is in progress in {path}",
            details={"worktree": str(path)},
            hint="finish or abort it there, then retry",
        )
    dirty = repo.dirty_files(path, untracked=False)
    touched = _split_z(_out(["diff", "--name-only", "--no-renames", "-z", f"{target_tip}...{branch_tip}"], repo.root))
    blocking = _untracked_in_the_way(path, touched)
    if dirty or blocking:
        files = sorted(set(dirty) | set(blocking))
        kind = "uncommitted changes" if dirty else "untracked files the landing would overwrite"
        raise Conflict(
            f"cannot land {branch!r} into {target!r}: {path} has {kind}: {', '.join(files[:20])}"
            + (f" (and {len(files) - 20} more)" if len(files) > 20 else ""),
            details={"worktree": str(path), "files": files},
            hint="commit, stash or move them away there, then retry",
        )


def _untracked_in_the_way(path: Path, touched: list[str]) -> list[str]:
    """Untracked or ignored entries at ``path`` that are, contain or sit above a path the landing writes."""
    if not touched:
        return []
    entries = _split_z(_out(["ls-files", "--others", "--directory", "-z"], path))
    files = {e for e in entries if not e.endswith("/")}
    dirs = {e for e in entries if e.endswith("/")}
    hits: set[str] = set()
    for name in touched:
        parts = name.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if name in files:
            hits.add(name)
        hits.update(p for p in prefixes if p in files)
        hits.update(d for d in (p + "/" for p in prefixes) if d in dirs)
        hits.update(d for d in dirs if d.startswith(name + "/"))
    return sorted(hits)


def _operation_in_progress(path: Path) -> str | None:
    for marker, name in (
        ("MERGE_HEAD", "merge"),
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if Path(_out(["rev-parse", "--path-format=absolute", "--git-path", marker], path)).exists():
            return name
    return None


def _merge(cwd: Path, strategy: LandStrategy, branch_tip: str, target_tip: str, full: str) -> LandResult:
    """Merge or squash ``branch_tip`` into HEAD at ``cwd``; a conflict is aborted before returning."""
    identity = _identity_config(cwd)
    if strategy == "merge":
        args = ["merge", "--no-ff", "--no-log", "--no-verify", "--no-gpg-sign", "--no-autostash", "--no-edit"]
        result = _run_git([*args, "-m", full, branch_tip], cwd, check=False, config=identity)
    else:
        result = _run_git(["merge", "--squash", "--no-autostash", branch_tip], cwd, check=False, config=identity)
    if result.returncode != 0:
        conflicts = _conflicted_files(cwd)
        if strategy == "merge" and _operation_in_progress(cwd) == "merge":
            _run_git(["merge", "--abort"], cwd)
        elif conflicts or strategy == "squash":
            _run_git(["reset", "--merge"], cwd)
            _drop_squash_msg(cwd)
        if conflicts:
            return LandResult("conflict", None, conflicts)
        raise _git_failure(result, cwd, what=f"{strategy} of {branch_tip[:12]}")
    if strategy == "squash":
        if _run_git(["diff", "--cached", "--quiet"], cwd, check=False).returncode == 0:
            _drop_squash_msg(cwd)  # the target already holds every change of the branch
            return LandResult("already_merged", target_tip)
        commit = ["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--cleanup=whitespace", "-F", "-"]
        _run_git(commit, cwd, config=identity, input_text=full)
    return LandResult("merged", _out(["rev-parse", "HEAD"], cwd))


def _rebase(repo: Repo, branch: str, branch_tip: str, target_tip: str, scratch: Path, land_id: str) -> str | LandResult:
    """Replay the task branch on the target tip; the new branch tip, or a conflict (rebase aborted)."""
    if repo.is_ancestor(target_tip, branch_tip):
        return branch_tip
    holder = _find_worktree(repo.root, branch=branch)
    if holder is not None:
        _undo_own_interrupted_rebase(holder.path, branch_tip, target_tip)
        busy = _operation_in_progress(holder.path)
        dirty = repo.dirty_files(holder.path, untracked=False)
        if busy or dirty:
            what = f"a {busy} in progress" if busy else "uncommitted changes: " + ", ".join(dirty[:20])
            raise Conflict(
                f"cannot rebase {branch!r}: its worktree {holder.path} has {what}",
                details={"worktree": str(holder.path), "files": dirty},
                hint="commit the task's work first (or abort the operation there), then retry",
            )
        return _rebase_in(holder.path, target_tip)
    with _temporary_worktree(repo, scratch, f".rebase-{_slug(land_id)}", branch_tip) as tmp:
        rebased = _rebase_in(tmp, target_tip)
        if isinstance(rebased, str) and not _move_ref(repo, f"refs/heads/{branch}", rebased, branch_tip, land_id):
            raise GitError(f"branch {branch!r} moved while it was being rebased", hint="retry the landing")
        return rebased


def _rebase_in(cwd: Path, onto: str) -> str | LandResult:
    args = ["rebase", "--no-autostash", "--no-verify", "--no-gpg-sign", onto]
    result = _run_git(args, cwd, check=False, config=_identity_config(cwd))
    if result.returncode != 0:
        conflicts = _conflicted_files(cwd)
        if _operation_in_progress(cwd) == "rebase":
            _run_git(["rebase", "--abort"], cwd)
        if conflicts:
            return LandResult("conflict", None, conflicts)
        raise _git_failure(result, cwd, what=f"rebase onto {onto[:12]}")
    return _out(["rev-parse", "HEAD"], cwd)


def _conflicted_files(cwd: Path) -> list[str]:
    return sorted(set(_split_z(_out(["diff", "--name-only", "--diff-filter=U", "-z"], cwd))))


def _drop_squash_msg(cwd: Path) -> None:
    Path(_out(["rev-parse", "--path-format=absolute", "--git-path", "SQUASH_MSG"], cwd)).unlink(missing_ok=True)


def _move_ref(repo: Repo, ref: str, new: str, old: str, land_id: str) -> bool:
    """Compare-and-swap ``ref`` from ``old`` to ``new``; False when someone moved it in between."""
    result = _run_git(["update-ref", "-m", f"animus: land {land_id}", ref, new, old], repo.root, check=False)
    return result.returncode == 0


@contextmanager
def _temporary_worktree(repo: Repo, parent: Path, name: str, commit: str) -> Iterator[Path]:
    """A detached worktree at ``parent/name`` for the duration of the block (leftovers of a crash replaced)."""
    path = Path(parent) / name
    remove_worktree(repo.root, path)
    procs.private_dir(parent)
    _run_git(["worktree", "add", "--detach", "--quiet", str(path), commit], repo.root)
    try:
        yield path
    finally:
        remove_worktree(repo.root, path)


def _scratch_dir(repo: Repo, branch: str) -> Path:
    holder = _find_worktree(repo.root, branch=branch)
    if holder is not None:
        return holder.path.parent
    tag = hashlib.sha256(str(repo.root).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"animus-land-{tag}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:80] or "x"

"""``commit_file_on_branch``: one file changed by one commit on a branch, without disturbing anyone's checkout.

A task source writes back into the repository (a Markdown task's ``status:`` line) on a branch that
may be checked out in the user's own working tree. Where it is checked out nowhere, the commit is
made with plumbing (the new blob, a throw-away index, ``commit-tree``) and the branch moves by
compare-and-swap, so no working tree is touched. Where it is checked out, the commit is made in that
working tree with ``git commit --only -- <file>``, which commits that one path and leaves whatever
else the user has staged or changed exactly as it was — and only when that file itself has no
uncommitted change, so a user's edit is never overwritten or swept into animus's commit.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from animus.domain.errors import Conflict, GitError, InvalidInput, NotFound
from animus.git._command import _identity_config, _out, _run_git, _split_z
from animus.git._land import _operation_in_progress
from animus.git._lock import _locked
from animus.git._repo import Repo
from animus.git._worktree import _find_worktree

#: the branch may move under us (a user's commit, a landing); each retry starts from a fresh look
_ATTEMPTS = 3
_REGULAR_FILE = "100644"


@_locked
def commit_file_on_branch(
    repo_root: Path,
    branch: str,
    relpath: str,
    edit: Callable[[str | None], str | None],
    message: str,
) -> str | None:
    """Commit ``edit(current text of relpath on branch)`` as the file's new content; the new commit's sha.

    ``edit`` gets the file's text at the branch tip (None when the file is not there) and returns the
    new text, or None to leave it alone; it may be called once per attempt, so it must not have side
    effects beyond remembering what it saw. Returns None when nothing changed (edit returned None or
    the same text): a replay of a write already made is a no-op.

    Where the branch is checked out, Conflict (nothing touched) when that working tree has a merge,
    rebase, cherry-pick or revert in progress, or when ``relpath`` there has staged or unstaged
    changes, or is an untracked file in the way. Hooks and signing are skipped (an unattended commit).
    """
    repo = Repo(Path(repo_root))
    path = _safe_relpath(relpath)
    if not message.strip():
        raise GitError("a commit message must not be empty")
    if not repo.branch_exists(branch):
        raise NotFound(f"branch {branch!r} does not exist in {repo.root}")
    for _ in range(_ATTEMPTS):
        holder = _find_worktree(repo.root, branch=branch)
        if holder is not None and holder.prunable:
            _run_git(["worktree", "prune"], repo.root)
            holder = None
        tip = repo.head_sha(f"refs/heads/{branch}")
        entry = _tree_entry(repo.root, tip, path)
        old = _blob_text(repo.root, entry[1]) if entry is not None else None
        new = edit(old)
        if new is None or new == old:
            return None
        if holder is not None:
            _require_clean_file(holder.path, branch, path, tracked=entry is not None)
            if repo.head_sha(f"refs/heads/{branch}") != tip:
                continue  # a commit landed while we looked: edit its content, not the one before
            return _commit_in_checkout(holder.path, path, new, message, tracked=entry is not None)
        sha = _commit_with_plumbing(repo, tip, path, entry[0] if entry is not None else _REGULAR_FILE, new, message)
        if _run_git(["update-ref", "-m", f"animus: {message.splitlines()[0]}", f"refs/heads/{branch}", sha, tip],
                    repo.root, check=False).returncode == 0:
            return sha
    raise GitError(
        f"{branch!r} kept moving while animus was committing {path} on it",
        hint="retry when the other commits on that branch have finished",
    )


def _safe_relpath(relpath: str) -> str:
    """``relpath`` as a normalised posix path inside the repository; InvalidInput otherwise."""
    path = posixpath.normpath(relpath.replace("\\", "/")) if relpath else ""
    first = path.split("/")[0]
    if not path or path.startswith("/") or first in (".", "..", ".git") or "\0" in path:
        raise InvalidInput(f"invalid file path {relpath!r}: give a file inside the repository, e.g. tasks/login.md")
    return path


def _tree_entry(root: Path, commit: str, path: str) -> tuple[str, str] | None:
    """(mode, blob sha) of ``path`` in ``commit``; None when absent. GitError when it is not a regular file."""
    fields = _split_z(_out(["ls-tree", "-z", "--full-tree", commit, "--", path], root))
    if not fields:
        return None
    meta, _, _name = fields[0].partition("\t")
    mode, kind, sha = meta.split(" ")
    if kind != "blob" or mode not in ("100644", "100755"):
        raise GitError(f"{path} at {commit[:12]} is a {kind} (mode {mode}), not a regular file")
    return mode, sha


def _blob_text(root: Path, sha: str) -> str:
    text = _run_git(["cat-file", "blob", sha], root).stdout
    if len(text.encode()) != int(_out(["cat-file", "-s", sha], root)):
        # git's output was decoded with replacement characters: writing it back would corrupt the file
        raise GitError(f"blob {sha[:12]} is not UTF-8 text; animus edits only UTF-8 files")
    return text


def _commit_with_plumbing(repo: Repo, tip: str, path: str, mode: str, text: str, message: str) -> str:
    """A commit on top of ``tip`` that changes only ``path``, made without any working tree."""
    blob = _out(["hash-object", "-w", "--no-filters", "--stdin"], repo.root, input_text=text)
    with tempfile.TemporaryDirectory(prefix="animus-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _run_git(["read-tree", tip], repo.root, env=env)
        _run_git(["update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}"], repo.root, env=env)
        tree = _run_git(["write-tree"], repo.root, env=env).stdout.strip()
    identity = _identity_config(repo.root)
    commit = ["commit-tree", "--no-gpg-sign", tree, "-p", tip, "-F", "-"]
    return _out(commit, repo.root, input_text=message.rstrip("\n") + "\n", config=identity)


def _require_clean_file(worktree: Path, branch: str, path: str, *, tracked: bool) -> None:
    """Conflict unless ``path`` in the checkout holding ``branch`` is exactly what its HEAD has."""
    busy = _operation_in_progress(worktree)
    if busy:
        raise Conflict(
            f"cannot commit {path} on {branch!r}: a {busy} is in progress in {worktree}",
            details={"worktree": str(worktree), "files": [path]},
            hint="finish or abort it there; animus retries later",
        )
    status = _out(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", path], worktree)
    if status:
        raise Conflict(
            f"cannot commit {path} on {branch!r}: {worktree / path} has uncommitted changes",
            details={"worktree": str(worktree), "files": [path]},
            hint="commit or stash your edit of that file; animus retries later",
        )
    if not tracked and os.path.lexists(worktree / path):
        raise Conflict(
            f"cannot commit {path} on {branch!r}: an untracked or ignored {worktree / path} is in the way",
            details={"worktree": str(worktree), "files": [path]},
            hint="move that file away; animus retries later",
        )


def _commit_in_checkout(worktree: Path, path: str, text: str, message: str, *, tracked: bool) -> str:
    """Write ``path`` in the working tree (checked clean) and commit only that path there."""
    target = worktree / path
    before = target.read_bytes() if tracked else None
    _write_like(target, text)
    identity = _identity_config(worktree)
    try:
        if not tracked:
            _run_git(["add", "--", path], worktree)
        args = ["commit", "--quiet", "--only", "--no-verify", "--no-gpg-sign", "--cleanup=verbatim", "-F", "-"]
        _run_git([*args, "--", path], worktree, config=identity, input_text=message.rstrip("\n") + "\n")
    except GitError:
        # leave the checkout as the user had it: their file back, nothing of ours staged
        if before is not None:
            _write_like(target, before)
        else:
            _run_git(["rm", "--cached", "--quiet", "--ignore-unmatch", "--", path], worktree, check=False)
            target.unlink(missing_ok=True)
        raise
    return _out(["rev-parse", "HEAD"], worktree)


def _write_like(target: Path, content: str | bytes) -> None:
    """Replace ``target`` atomically, keeping its permission bits when it exists."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content.encode() if isinstance(content, str) else content)
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Commits of agent work, each tagged with its run's ``Animus-Run`` trailer so a replay never commits twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animus.git._command import _find_trailer_commit, _identity_config, _run_git, _with_trailer

RUN_TRAILER = "Animus-Run"


@dataclass(frozen=True)
class CommitResult:
    """``sha`` of the run's commit (None when there was nothing to commit); ``created`` is False on replay."""

    sha: str | None
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"sha": self.sha, "created": self.created}


def find_commit_by_trailer(worktree_path: Path, run_id: str, base_sha: str | None = None) -> str | None:
    """The commit on HEAD (after ``base_sha`` when given) carrying ``Animus-Run: <run_id>``, or None."""
    cwd = Path(worktree_path)
    if _run_git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd, check=False).returncode != 0:
        return None
    revs = [f"{base_sha}..HEAD"] if base_sha else ["HEAD"]
    return _find_trailer_commit(cwd, RUN_TRAILER, run_id, revs)


def commit_all(
    worktree_path: Path,
    message: str,
    run_id: str,
    author: str | None = None,
    *,
    base_sha: str | None = None,
) -> CommitResult:
    """Stage every change in the worktree and commit it with the trailer ``Animus-Run: <run_id>``.

    Checks the world first: when a commit with that trailer is already on the branch (the step ran
    before and was interrupted after committing), that commit is returned and nothing is committed.
    Hooks and commit signing are skipped: this is an unattended commit of work already made.
    ``author`` is ``"Name <email>"``; the committer is the repository's configured identity, or
    ``animus <animus@localhost>`` when it has none (passed with ``-c``, the user's config is untouched).
    """
    cwd = Path(worktree_path)
    # One look at the tree first: a clean tree means either nothing to commit or a replay of a commit
    # already made; either way only the trailer search is left to do.
    dirty = _run_git(["status", "--porcelain", "-z", "--untracked-files=all"], cwd).stdout != ""
    revs = [f"{base_sha}..HEAD"] if base_sha else ["HEAD"]
    done = _find_trailer_commit(cwd, RUN_TRAILER, run_id, revs)
    if done is not None or not dirty:
        return CommitResult(done, created=False)
    full = _with_trailer(message, RUN_TRAILER, run_id, cwd)
    _run_git(["add", "-A"], cwd)
    if _run_git(["diff", "--cached", "--quiet"], cwd, check=False).returncode == 0:
        return CommitResult(None, created=False)  # only ignored or already-staged-away changes
    args = ["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--cleanup=whitespace", "-F", "-"]
    if author:
        args.append(f"--author={author}")
    _run_git(args, cwd, config=_identity_config(cwd), input_text=full)
    sha = _run_git(["rev-parse", "HEAD"], cwd).stdout.strip()
    return CommitResult(sha, created=True)

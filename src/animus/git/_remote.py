"""Pushing a task branch to a remote, skipped when the remote already has it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animus.domain.errors import GitError
from animus.git._command import _NETWORK_TIMEOUT, _git_failure, _run_git
from animus.git._repo import Repo


@dataclass(frozen=True)
class PushResult:
    """``sha`` now on the remote branch; ``pushed`` is False when the remote already had it."""

    remote: str
    branch: str
    sha: str
    pushed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"remote": self.remote, "branch": self.branch, "sha": self.sha, "pushed": self.pushed}


def remote_branch_sha(repo_root: Path, branch: str, remote: str = "origin") -> str | None:
    """The commit ``branch`` points at on ``remote`` (asked over the network), or None when absent."""
    ref = f"refs/heads/{branch}"
    result = _run_git(["ls-remote", "--heads", remote, ref], Path(repo_root), check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        raise _git_failure(result, Path(repo_root), what=f"asking {remote!r} for {branch!r}")
    for line in result.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name.strip() == ref:
            return sha.strip()
    return None


def push_branch(repo_root: Path, branch: str, remote: str = "origin", *, force: bool = False) -> PushResult:
    """Push the local ``branch`` to the same name on ``remote`` unless the remote already has that commit.

    Without ``force`` a remote branch that diverged (for example after a rebase landing) is an error;
    with it the push replaces exactly the commit seen a moment ago (``--force-with-lease``), never more.
    """
    repo = Repo(Path(repo_root))
    local = repo.head_sha(f"refs/heads/{branch}")
    seen = remote_branch_sha(repo.root, branch, remote)
    if seen == local:
        return PushResult(remote, branch, local, pushed=False)
    ref = f"refs/heads/{branch}"
    args = ["push", "--porcelain", "--no-verify", remote, f"{ref}:{ref}"]
    if force:
        args.insert(1, f"--force-with-lease={ref}:{seen or ''}")
    result = _run_git(args, repo.root, check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        error = _git_failure(result, repo.root, what=f"push of {branch!r} to {remote!r}")
        if "rejected" in result.stdout + result.stderr:
            raise GitError(
                error.message,
                details=error.details,
                hint=f"{remote}/{branch} has commits the local branch lacks; pull them in, or push with force",
            )
        raise error
    return PushResult(remote, branch, local, pushed=True)

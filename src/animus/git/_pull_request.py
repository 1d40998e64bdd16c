"""Pull requests through the GitHub CLI (``gh``): reuse the branch's PR, or open one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animus.domain.errors import GitError, SpawnError, Unavailable
from animus.git._command import _NETWORK_TIMEOUT, _git_env
from animus.procs import ProgramResult, run_program

# An open PR is reused as is; a merged one means the work already landed. A closed, unmerged one is
# the user's "no", so a fresh PR is opened.
_REUSE = ("OPEN", "MERGED")


@dataclass(frozen=True)
class PullRequest:
    """A pull request for the task branch; ``created`` is False when an existing one was found."""

    url: str
    number: int
    created: bool
    state: str = "OPEN"

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "number": self.number, "created": self.created, "state": self.state}


def find_pull_request(repo_root: Path, branch: str, target: str, gh: str = "gh") -> PullRequest | None:
    """The open (else merged) PR from ``branch`` into ``target``, or None."""
    argv = [gh, "pr", "list", "--head", branch, "--base", target, "--state", "all", "--json", "number,url,state"]
    result = _gh(argv, Path(repo_root))
    try:
        rows = json.loads(result.stdout or "[]")
        found = [(str(r["state"]).upper(), int(r["number"]), str(r["url"])) for r in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise GitError(f"`gh pr list` printed something that is not its JSON list: {result.stdout[:200]!r}") from exc
    for wanted in _REUSE:
        matches = sorted((n, url) for state, n, url in found if state == wanted)
        if matches:
            number, url = matches[-1]
            return PullRequest(url, number, created=False, state=wanted)
    return None


def ensure_pull_request(
    repo_root: Path, branch: str, target: str, title: str, body: str, gh: str = "gh"
) -> PullRequest:
    """Reuse the open (else merged) PR from ``branch`` into ``target``, else create one; push the branch before."""
    existing = find_pull_request(repo_root, branch, target, gh)
    if existing is not None:
        return existing
    argv = [gh, "pr", "create", "--head", branch, "--base", target, "--title", title, "--body-file", "-"]
    result = _gh(argv, Path(repo_root), input_text=body, check=False)
    if result.returncode != 0:
        # lost a race with another creator, or gh created it and died before saying so
        again = find_pull_request(repo_root, branch, target, gh)
        if again is not None:
            return again
        raise _failure(result, Path(repo_root))
    url = next((line.strip() for line in reversed(result.stdout.splitlines()) if "://" in line), "")
    match = re.search(r"/pull/(\d+)", url)
    if match is None:
        found = find_pull_request(repo_root, branch, target, gh)
        if found is None:
            raise GitError(f"`gh pr create` succeeded but printed no pull request URL: {result.stdout[:200]!r}")
        return PullRequest(found.url, found.number, created=True, state=found.state)
    return PullRequest(url, int(match.group(1)), created=True)


def _gh(argv: list[str], cwd: Path, *, input_text: str | None = None, check: bool = True) -> ProgramResult:
    env = _git_env({"GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1", "NO_COLOR": "1", "GH_PAGER": "cat"})
    try:
        result = run_program(argv, cwd=cwd, env=env, timeout=_NETWORK_TIMEOUT, input_text=input_text)
    except SpawnError as exc:
        raise Unavailable(
            f"the GitHub CLI {argv[0]!r} is not installed or not on PATH",
            hint="install gh (https://cli.github.com) and run `gh auth login`",
        ) from exc
    if result.timed_out:
        raise GitError(f"`gh {argv[1]} {argv[2]}` timed out after {_NETWORK_TIMEOUT:.0f}s")
    if check and result.returncode != 0:
        raise _failure(result, cwd)
    return result


def _failure(result: ProgramResult, cwd: Path) -> GitError:
    said = " | ".join(line.strip() for line in result.stderr.strip().splitlines()[-4:] if line.strip())
    hint = "run `gh auth login`" if "auth" in result.stderr.lower() else None
    return GitError(
        f"`gh {result.argv[1]} {result.argv[2]}` failed in {cwd}: {said or f'exit code {result.returncode}'}",
        details={"argv": list(result.argv[:3]), "returncode": result.returncode, "stderr": result.stderr[-4000:]},
        hint=hint,
    )

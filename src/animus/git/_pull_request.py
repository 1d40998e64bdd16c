"""Pull requests through GitHub's REST API: reuse the branch's PR, or open one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from animus.git._github import GitHubClient, GitHubError

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
    head_sha: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "number": self.number,
            "created": self.created,
            "state": self.state,
            "head_sha": self.head_sha,
        }


def find_pull_request(client: GitHubClient, repo: str, branch: str, target: str) -> PullRequest | None:
    """The open (else merged) PR from ``branch`` into ``target``, the newest of its kind, or None."""
    found = [_pull_request(pull, created=False) for pull in client.find_pulls(repo, branch, base=target, state="all")]
    for wanted in _REUSE:
        matches = sorted((pr for pr in found if pr.state == wanted), key=lambda pr: pr.number)
        if matches:
            return matches[-1]
    return None


def ensure_pull_request(
    client: GitHubClient, repo: str, branch: str, target: str, title: str, body: str
) -> PullRequest:
    """Reuse the open (else merged) PR from ``branch`` into ``target``, else create one; push the branch before."""
    existing = find_pull_request(client, repo, branch, target)
    if existing is not None:
        return existing
    try:
        created = client.create_pull(repo, head=branch, base=target, title=title, body=body)
    except GitHubError as exc:
        # lost a race with another creator (422 "A pull request already exists"), or GitHub made it
        # and the answer was lost on the way: either way the world now holds the PR to reuse
        try:
            again = find_pull_request(client, repo, branch, target)
        except GitHubError:
            raise exc from None
        if again is not None:
            return again
        raise
    return _pull_request(created, created=True)


def _pull_request(pull: dict[str, Any], *, created: bool) -> PullRequest:
    """GitHub's pull request JSON as a PullRequest: state OPEN, CLOSED or MERGED (a list has ``merged_at``)."""
    try:
        merged = bool(pull.get("merged") or pull.get("merged_at"))
        state = "MERGED" if merged else str(pull["state"]).upper()
        head = pull.get("head") or {}
        sha = head.get("sha") if isinstance(head, dict) else None
        return PullRequest(str(pull["html_url"]), int(pull["number"]), created, state, str(sha) if sha else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"GitHub answered a pull request without its number, state or URL: {str(pull)[:200]}") from exc

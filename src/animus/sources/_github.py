"""GitHub issues as a task source, through the one GitHub REST client (``animus.git.GitHubClient``).

Listing: the open issues carrying every configured label (and the assignee, when set). With a
cursor (the newest ``updated_at`` seen) the listing asks for ``state=all&since=cursor``, so an issue
closed upstream comes back closed and its not-yet-started task is cancelled. Status flows back as one
comment per run, found again by its hidden marker and edited in place, plus the status labels, and
the issue is closed on landing when ``close_on_land`` is set: each write looks first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from animus.procs import fault_point
from animus.sources._types import ExternalItem, FetchResult, SourceContext, StatusUpdate, status_marker

if TYPE_CHECKING:
    from animus.config import GitHubConfig, GitHubSource
    from animus.git import GitHubClient

#: which status label a run's state puts on the issue (None: take every animus label off)
_LABEL_FOR = {"running": "running", "waiting_gate": "running", "waiting_pr": "running", "landed": "done", "done": "done",
              "failed": "blocked", "blocked": "blocked", "cancelled": None}


class GitHubIssuesAdapter:
    """One ``type: github`` source."""

    def __init__(self, config: GitHubSource, ctx: SourceContext, github: GitHubConfig, *, client: GitHubClient | None = None,
                 remote: str = "origin") -> None:
        self.config = config
        self.ctx = ctx
        self._github = github
        self._client = client
        self._remote = remote
        self._repo: str | None = config.repo or github.repo

    # -- the client -------------------------------------------------------------------------------
    @property
    def client(self) -> GitHubClient:
        if self._client is None:
            from animus.git import GitHubClient

            self._client = GitHubClient.from_env(self.config.api_url or self._github.api_url,
                                                 token_env=self.config.token_env or self._github.token_env)
        return self._client

    @property
    def repo(self) -> str:
        if self._repo is None:
            from animus.domain.errors import InvalidInput
            from animus.git import remote_url, repo_from_remote

            url = remote_url(self.ctx.project_root, self._remote)
            found = repo_from_remote(url) if url else None
            if not found:
                raise InvalidInput(f"source {self.config.id!r} names no repo and the remote {self._remote!r} is not a GitHub URL",
                                   hint=f"set sources[{self.config.id}].repo (or github.repo) to owner/name")
            self._repo = found
        return self._repo

    # -- listing ----------------------------------------------------------------------------------
    def fetch(self, cursor: str | None) -> FetchResult:
        state = "all" if cursor else "open"
        issues = self.client.list_issues(self.repo, labels=self.config.labels, assignee=self.config.assignee, state=state,
                                         since=cursor)
        items = [self._item(issue) for issue in issues]
        newest = max([cursor or "", *(item.updated_at for item in items)])
        return FetchResult(items=items, cursor=newest or None, complete=cursor is None)

    def get(self, external_id: str) -> ExternalItem | None:
        from animus.git import GitHubNotFound

        try:
            issue = self.client.get_issue(self.repo, int(external_id))
        except GitHubNotFound:
            return None
        if issue.get("pull_request") is not None:
            return None
        return self._item(issue)

    def _item(self, issue: dict[str, Any]) -> ExternalItem:
        labels = tuple(str(lb.get("name")) for lb in issue.get("labels") or [] if isinstance(lb, dict) and lb.get("name"))
        own = {self.config.status_labels.running, self.config.status_labels.done, self.config.status_labels.blocked}
        wanted = set(self.config.labels)
        assignees = {str(a.get("login")) for a in issue.get("assignees") or [] if isinstance(a, dict)}
        still_matches = wanted <= set(labels) and (self.config.assignee is None or self.config.assignee in assignees)
        number = int(issue["number"])
        return ExternalItem(
            external_id=str(number), key=f"#{number}", url=str(issue.get("html_url") or ""),
            title=str(issue.get("title") or f"issue #{number}"), description=str(issue.get("body") or ""),
            labels=tuple(lb for lb in labels if lb not in own and lb not in wanted),
            priority=_priority(labels, self.config.priority_map),
            open=issue.get("state") == "open" and still_matches, updated_at=str(issue.get("updated_at") or ""),
        )

    def check(self) -> dict[str, Any]:
        user = self.client.user()
        issues = self.client.list_issues(self.repo, labels=self.config.labels, assignee=self.config.assignee, state="open")
        return {"identity": user.get("login"), "repo": self.repo, "labels": list(self.config.labels),
                "matching": len(issues), "rate_remaining": self.client.rate_remaining}

    # -- status back ------------------------------------------------------------------------------
    def report(self, update: StatusUpdate) -> dict[str, Any]:
        number = int(update.external_id)
        done: dict[str, Any] = {"comment": self._comment(number, update)}
        fault_point("animus.sources.github.labels", "before")  # the comment is written, the labels not yet
        issue = self.client.get_issue(self.repo, number)
        done["labels"] = self._labels(number, update, issue)
        if update.kind in ("landed", "done") and self.config.close_on_land:
            if issue.get("state") != "closed":
                self.client.update_issue(self.repo, number, state="closed", state_reason="completed")
                done["closed"] = True
            else:
                done["closed"] = "already"
        return done

    def _comment(self, number: int, update: StatusUpdate) -> str:
        marker = status_marker(update.run_id)
        body = f"{update.summary}\n\n{marker}"
        for comment in self.client.list_comments(self.repo, number):
            if marker in str(comment.get("body") or ""):
                if str(comment.get("body")) == body:
                    return "unchanged"
                self.client.edit_comment(self.repo, int(comment["id"]), body)
                return "edited"
        self.client.create_comment(self.repo, number, body)
        return "created"

    def _labels(self, number: int, update: StatusUpdate, issue: dict[str, Any]) -> dict[str, list[str]]:
        names = self.config.status_labels
        by_state = {"running": names.running, "done": names.done, "blocked": names.blocked}
        chosen = _LABEL_FOR.get(update.kind)
        want = by_state.get(chosen) if chosen else None
        have = {str(lb.get("name")) for lb in issue.get("labels") or [] if isinstance(lb, dict)}
        added = [want] if want and want not in have else []
        if added:
            self.client.add_labels(self.repo, number, added)
        removed = [name for name in by_state.values() if name != want and name in have]
        for name in removed:
            self.client.remove_label(self.repo, number, name)
        return {"added": added, "removed": removed}


def _priority(labels: tuple[str, ...], priority_map: Mapping[str, str]) -> str | None:
    """The most urgent priority any label maps to."""
    order = ("critical", "high", "medium", "low")
    found = [priority_map[label] for label in labels if label in priority_map]
    return min(found, key=order.index) if found else None

"""The Linear source: a team's issues in the configured states and labels, and their runs' status told back.

Linear has one GraphQL endpoint. A personal API key goes in ``Authorization`` as it is (no
"Bearer"). Every request names its operation (``AnimusIssues``, ``AnimusSetState`` …), which makes
the request log readable and is what tests/support/fake_linear.py answers. Errors become animus's
own: refused credentials → SourceAuthError, slow down → SourceRateLimited, Linear down → Unavailable.
The key is never part of a message.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from animus.domain.errors import InvalidInput, Unavailable
from animus.sources._types import (
    ExternalItem,
    FetchResult,
    SourceAuthError,
    SourceContext,
    SourceRateLimited,
    StatusKind,
    StatusUpdate,
    status_marker,
)

if TYPE_CHECKING:
    from animus.config import LinearSource

_USER_AGENT = "animus-sources/1"
_TIMEOUT_SECS = 30.0
_RATE_LIMIT_FALLBACK_SECS = 60.0
_CLOSED_TYPES = ("completed", "canceled")
_AUTH_CODES = ("AUTHENTICATION_ERROR", "FORBIDDEN")

_ISSUE_FIELDS = "id identifier title description url priority updatedAt state { name type } labels { nodes { name } }"
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

_VIEWER = "query AnimusViewer { viewer { id name } }"
_TEAMS = "query AnimusTeam($filter: TeamFilter!) { teams(filter: $filter) { nodes { id key name " \
         "states { nodes { id name type } } } } }"
_ISSUES = (
    "query AnimusIssues($filter: IssueFilter!, $first: Int!, $after: String) {"
    f" issues(filter: $filter, first: $first, after: $after) {{ nodes {{ {_ISSUE_FIELDS} }} {_PAGE_INFO} }} }}"
)
_ISSUE = f"query AnimusIssue($id: String!) {{ issue(id: $id) {{ {_ISSUE_FIELDS} }} }}"
_COMMENTS = f"comments(first: $first, after: $after) {{ nodes {{ id body }} {_PAGE_INFO} }}"
_ISSUE_STATUS = (
    "query AnimusIssueStatus($id: String!, $first: Int!, $after: String) { issue(id: $id) {"
    f" id identifier state {{ id name type }} team {{ states {{ nodes {{ id name type }} }} }} {_COMMENTS} }} }}"
)
_ISSUE_COMMENTS = f"query AnimusIssueComments($id: String!, $first: Int!, $after: String) {{ issue(id: $id) {{ {_COMMENTS} }} }}"
_SET_STATE = (
    "mutation AnimusSetState($id: String!, $stateId: String!) {"
    " issueUpdate(id: $id, input: {stateId: $stateId}) { success issue { id state { name } } } }"
)
_CREATE_COMMENT = (
    "mutation AnimusCreateComment($issueId: String!, $body: String!) {"
    " commentCreate(input: {issueId: $issueId, body: $body}) { success comment { id } } }"
)
_EDIT_COMMENT = (
    "mutation AnimusEditComment($id: String!, $body: String!) {"
    " commentUpdate(id: $id, input: {body: $body}) { success comment { id } } }"
)

# Which state_map entry a run's status moves the issue to.
_STATE_FOR: dict[StatusKind, str | None] = {
    "running": "running",
    "waiting_gate": "running",
    "waiting_pr": "running",
    "landed": "done",
    "done": "done",
    "failed": "blocked",
    "blocked": "blocked",
    "cancelled": None,
}


class _NotFound(Exception):
    """Linear said the entity does not exist (internal: ``get`` turns it into None)."""


class LinearAdapter:
    """One ``type: linear`` source (implements ``SourceAdapter``)."""

    def __init__(self, config: LinearSource, ctx: SourceContext, *, token: str | None = None,
                 page_size: int = 50) -> None:
        self.config = config
        self.ctx = ctx
        self.page_size = page_size
        # read now, refused at first use: a missing key must not stop the daemon building its other sources
        self._token = (token if token is not None else os.environ.get(config.token_env, "")).strip()
        self._team: dict[str, Any] | None = None

    # -- the SourceAdapter interface -------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        """Without a cursor: every issue in the configured states (complete). With one: every issue of the team
        changed since, open when it is in a configured state, closed when it went to a completed or canceled one."""
        team = self._find_team()
        filter_: dict[str, Any] = {"team": {"id": {"eq": team["id"]}}, **self._label_filter()}
        if cursor is None:
            filter_["state"] = {"name": {"in": list(self.config.states)}}
        else:
            filter_["updatedAt"] = {"gt": cursor}
        items: list[ExternalItem] = []
        newest = cursor
        for node in self._issue_pages(filter_):
            updated = str(node.get("updatedAt") or "")
            newest = max(newest or updated, updated)
            if not self._has_labels(node):
                continue
            state = node.get("state") or {}
            if cursor is not None and state.get("name") not in self.config.states and state.get("type") not in _CLOSED_TYPES:
                continue  # moved to a state we do not take (e.g. started by a person): not ours to report
            items.append(self._item(node))
        return FetchResult(items=items, cursor=newest, complete=cursor is None)

    def get(self, external_id: str) -> ExternalItem | None:
        try:
            data = self._call("AnimusIssue", _ISSUE, {"id": external_id})
        except _NotFound:
            return None
        node = data.get("issue")
        return self._item(node) if node else None

    def check(self) -> dict[str, Any]:
        viewer = self._call("AnimusViewer", _VIEWER, {}).get("viewer") or {}
        team = self._find_team()
        have = {s["name"] for s in team["states"]["nodes"]}
        mapped = self.config.state_map
        wanted = list(dict.fromkeys([*self.config.states, *(s for s in (mapped.running, mapped.done, mapped.blocked) if s)]))
        matching = len(self.fetch(None).items)
        return {
            "identity": viewer.get("name"),
            "team": team["key"],
            "states": [s for s in wanted if s in have],
            "missing_states": [s for s in wanted if s not in have],
            "matching": matching,
        }

    def report(self, update: StatusUpdate) -> dict[str, Any]:
        """Move the issue to the mapped state (once) and keep one comment per run (created, then edited)."""
        first = {"id": update.external_id, "first": self.page_size, "after": None}
        try:
            issue = self._call("AnimusIssueStatus", _ISSUE_STATUS, first).get("issue")
        except _NotFound:
            issue = None
        if not issue:
            return {"state": "skipped", "comment": "skipped", "issue": "deleted"}
        done: dict[str, Any] = {"state": self._move(issue, update.kind)}
        if done["state"] == "missing":
            done["missing_state"] = self._wanted_state(update.kind)
        done["comment"] = self._upsert_comment(issue, update)
        return done

    # -- reading ----------------------------------------------------------------------------------

    def _find_team(self) -> dict[str, Any]:
        """The configured team (by key, else by name), cached for this adapter's life."""
        if self._team is None:
            name = self.config.team
            filter_ = {"or": [{"key": {"eq": name}}, {"name": {"eq": name}}]}
            nodes = (self._call("AnimusTeam", _TEAMS, {"filter": filter_}).get("teams") or {}).get("nodes") or []
            if not nodes:
                raise InvalidInput(
                    f"source {self.config.id!r}: Linear has no team {name!r} that this API key can see",
                    hint="set team: to the team's key (the prefix of its issue ids, e.g. ENG) or its name",
                )
            self._team = next((t for t in nodes if t.get("key") == name), nodes[0])
        return self._team

    def _label_filter(self) -> dict[str, Any]:
        # every configured label: one "some label is named L" clause per label, all of them required
        if not self.config.labels:
            return {}
        return {"and": [{"labels": {"some": {"name": {"eq": label}}}} for label in self.config.labels]}

    def _has_labels(self, node: dict[str, Any]) -> bool:
        names = {n.get("name") for n in (node.get("labels") or {}).get("nodes") or []}
        return all(label in names for label in self.config.labels)

    def _issue_pages(self, filter_: dict[str, Any]) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self._call("AnimusIssues", _ISSUES, {"filter": filter_, "first": self.page_size, "after": after})
            issues = page.get("issues") or {}
            nodes += issues.get("nodes") or []
            info = issues.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return nodes
            after = str(info["endCursor"])

    def _item(self, node: dict[str, Any]) -> ExternalItem:
        state = node.get("state") or {}
        labels = tuple(str(n["name"]) for n in (node.get("labels") or {}).get("nodes") or [] if n.get("name"))
        priority = node.get("priority")
        number = str(int(priority)) if isinstance(priority, (int, float)) else None
        return ExternalItem(
            external_id=str(node["id"]),
            key=str(node.get("identifier") or ""),
            url=str(node.get("url") or ""),
            title=str(node.get("title") or ""),
            description=str(node.get("description") or ""),
            labels=labels,
            priority=self.config.priority_map.get(number) if number is not None else None,
            open=state.get("type") not in _CLOSED_TYPES,
            updated_at=str(node.get("updatedAt") or ""),
            data={"state": state.get("name")},
        )

    # -- writing ----------------------------------------------------------------------------------

    def _wanted_state(self, kind: StatusKind) -> str | None:
        entry = _STATE_FOR[kind]
        name: str | None = getattr(self.config.state_map, entry) if entry else None
        return name

    def _move(self, issue: dict[str, Any], kind: StatusKind) -> str:
        wanted = self._wanted_state(kind)
        if wanted is None:
            return "skipped"
        if (issue.get("state") or {}).get("name") == wanted:
            return "unchanged"
        states = ((issue.get("team") or {}).get("states") or {}).get("nodes") or []
        target = next((s for s in states if s.get("name") == wanted), None)
        if target is None:
            return "missing"  # the state_map names a state the team lacks; `animus sources check` says so
        self._call("AnimusSetState", _SET_STATE, {"id": issue["id"], "stateId": target["id"]})
        return "set"

    def _upsert_comment(self, issue: dict[str, Any], update: StatusUpdate) -> str:
        body = _comment_body(update)
        mine = _find_run_comment(self._all_comments(issue), update.run_id)
        if mine is None:
            self._call("AnimusCreateComment", _CREATE_COMMENT, {"issueId": issue["id"], "body": body})
            return "created"
        if _same_text(str(mine.get("body") or ""), body, update.run_id):
            return "unchanged"
        self._call("AnimusEditComment", _EDIT_COMMENT, {"id": mine["id"], "body": body})
        return "edited"

    def _all_comments(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        page = issue.get("comments") or {}
        comments = list(page.get("nodes") or [])
        while (page.get("pageInfo") or {}).get("hasNextPage") and (page.get("pageInfo") or {}).get("endCursor"):
            variables = {"id": issue["id"], "first": self.page_size, "after": page["pageInfo"]["endCursor"]}
            page = (self._call("AnimusIssueComments", _ISSUE_COMMENTS, variables).get("issue") or {}).get("comments") or {}
            comments += page.get("nodes") or []
        return comments

    # -- the wire ---------------------------------------------------------------------------------

    def _call(self, operation: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one operation; its ``data``, or the animus error for what went wrong."""
        import httpx

        if not self._token:
            raise SourceAuthError(
                f"source {self.config.id!r}: the Linear API key is missing: {self.config.token_env} is not set",
                hint=f"create a personal API key in Linear (Settings → Security & access) and export"
                     f" {self.config.token_env} where the daemon runs",
            )
        url = self.config.api_url
        headers = {"Authorization": self._token, "Content-Type": "application/json", "User-Agent": _USER_AGENT}
        payload = {"query": query, "variables": variables, "operationName": operation}
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=_TIMEOUT_SECS, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise Unavailable(f"source {self.config.id!r}: Linear at {url} is unreachable: {type(exc).__name__}: {exc}",
                              hint="check the network and api_url; animus retries on the next poll") from None
        body = _json_or_none(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        codes = [str((e.get("extensions") or {}).get("code") or "") for e in errors or [] if isinstance(e, dict)]
        if response.status_code == 429 or "RATELIMITED" in codes:
            raise self._rate_limited(response)
        if response.status_code in (401, 403) or any(code in _AUTH_CODES for code in codes):
            raise SourceAuthError(
                f"source {self.config.id!r}: Linear refused the API key in {self.config.token_env}"
                f" (HTTP {response.status_code}{', ' + codes[0] if codes and codes[0] else ''})",
                hint=f"check that {self.config.token_env} holds a valid personal API key with access to the team",
            )
        if response.status_code >= 500:
            raise Unavailable(f"source {self.config.id!r}: Linear answered HTTP {response.status_code} to {operation}",
                              hint="Linear is having trouble; animus retries on the next poll")
        if errors:
            if any(_is_not_found(e) for e in errors):
                raise _NotFound(operation)
            said = "; ".join(str(e.get("message") or e)[:300] for e in errors[:3] if isinstance(e, dict))
            raise Unavailable(f"source {self.config.id!r}: Linear rejected {operation}: {said}",
                              details={"codes": codes})
        if response.status_code >= 400 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise Unavailable(f"source {self.config.id!r}: Linear answered HTTP {response.status_code} to {operation}"
                              " without data")
        data: dict[str, Any] = body["data"]
        return data

    def _rate_limited(self, response: Any) -> SourceRateLimited:
        reset = response.headers.get("X-RateLimit-Requests-Reset")
        try:
            reset_at = float(reset) / 1000.0
        except (TypeError, ValueError):
            reset_at = time.time() + _RATE_LIMIT_FALLBACK_SECS
        return SourceRateLimited(
            f"source {self.config.id!r}: Linear's rate limit is reached; it may be asked again at"
            f" {time.strftime('%H:%M:%S', time.localtime(reset_at))}",
            reset_at=reset_at,
        )


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_not_found(error: dict[str, Any]) -> bool:
    # Linear: {"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT",
    #          "userPresentableMessage": "Could not find referenced Issue."}}
    extensions = error.get("extensions") or {}
    return (
        str(error.get("message") or "").startswith("Entity not found")
        or extensions.get("code") in ("NOT_FOUND", "ENTITY_NOT_FOUND")
        or str(extensions.get("userPresentableMessage") or "").startswith("Could not find")
    )


def _footer(run_id: str) -> str:
    """A visible line naming the run: found again even where Linear's Markdown drops the HTML comment."""
    return f"animus run `{run_id}`"


def _comment_body(update: StatusUpdate) -> str:
    parts = [update.summary.strip()]
    if update.pr_url and update.pr_url not in update.summary:
        parts.append(f"Pull request: {update.pr_url}")
    parts.append(f"{_footer(update.run_id)}\n{status_marker(update.run_id)}")
    return "\n\n".join(p for p in parts if p)


def _find_run_comment(comments: list[dict[str, Any]], run_id: str) -> dict[str, Any] | None:
    marker, footer = status_marker(run_id), _footer(run_id)
    for comment in comments:
        body = str(comment.get("body") or "")
        if marker in body or footer in body.replace("\\", ""):
            return comment
    return None


def _same_text(have: str, want: str, run_id: str) -> bool:
    """Equal but for the marker, whitespace and escaping that Linear's Markdown round trip may change."""
    marker = status_marker(run_id)

    def norm(text: str) -> str:
        return " ".join(text.replace(marker, "").replace("\\", "").split())

    return norm(have) == norm(want)

"""A fake GitHub REST API: a real HTTP server on 127.0.0.1 speaking GitHub's JSON shapes, status codes and faults.

Tests drive it with plain methods (``add_issue``, ``add_review``, ``fail_next`` …) while animus, in
this process or in a daemon of its own, talks to it over HTTP as it would to api.github.com::

    with FakeGitHub(token="t0ken", git_dir=origin) as gh:
        gh.add_issue("acme/repo", "Fix the parser", labels=["animus"])
        env = {"GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": gh.url}

Issues and pull requests share one number sequence per repository, and pull requests show in the
issue list with a ``pull_request`` key, as on GitHub. With ``git_dir`` (a bare origin) a pull
request's head sha is read live from the branch, so a push moves it, and merges are real commits on
the base branch (the ``rebase`` method only for a head that fast-forwards). Without it, ``push``
moves a branch to a made-up sha. Repositories exist as soon as anything names them.

Run alone: ``python tests/support/fake_github.py --port 0 --state-file F`` prints its URL first. Over
HTTP, people and CI act through GitHub's own write endpoints: ``POST /repos/O/R/issues``,
``POST …/check-runs`` (CI's result on a head), ``POST …/pulls/N/reviews`` (approve or request changes,
with line comments), ``POST …/pulls/N/comments`` and ``PUT …/pulls/N/merge`` (a person merging).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

JSON = dict[str, Any]
_DOCS = "https://docs.github.com/rest"
_LIMIT = 5000
_WINDOW_SECS = 3600
_GIT_ENV = {"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com",
            "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
_REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}
_CHECK_STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
_CONCLUSIONS = {"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", None}


class _Reply(Exception):
    """An answer other than the handler's happy path (raised from deep inside a handler)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _fail(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": _DOCS, **extra})


def _not_found() -> _Reply:
    return _fail(404, "Not Found")


def _invalid(resource: str, field: str, code: str = "invalid", message: str | None = None) -> _Reply:
    error: JSON = {"resource": resource, "field": field, "code": code}
    if message is not None:
        error = {"resource": resource, "code": "custom", "message": message}
    return _fail(422, "Validation Failed", errors=[error])


@dataclass
class _Fault:
    left: int
    status: int
    path_contains: str | None
    method: str | None
    after: bool
    retry_after: int

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path_contains is None or self.path_contains in path)


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(int(moment), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid("Issue", "since") from None


def _fake_sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def _user_id(login: str) -> int:
    return int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)


class FakeGitHub:
    """GitHub's REST API in memory, behind a real HTTP server; every method is safe from any thread."""

    def __init__(
        self,
        *,
        token: str | None = None,
        git_dir: Path | None = None,
        login: str = "animus-bot",
        state_file: Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.git_dir = Path(git_dir) if git_dir is not None else None
        self.login = login
        self.state_file = Path(state_file) if state_file is not None else None
        self.now: Callable[[], float] = time.time
        self.requests: list[tuple[str, str]] = []
        self.log: list[JSON] = []  # method, path, query, body and the status answered, per request
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._rate = {"limit": _LIMIT, "remaining": _LIMIT, "reset": self.now() + _WINDOW_SECS, "status": 403}
        self._state: JSON = {"next_id": 1000, "repos": {}}
        if self.state_file is not None and self.state_file.exists():
            self._state = json.loads(self.state_file.read_text())
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        if self._thread is None:
            # a short poll: stop() waits for the loop to notice
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-github",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- faults the test arms ----------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        path_contains: str | None = None,
        *,
        method: str | None = None,
        after: bool = False,
        retry_after: int = 60,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status``; ``after``: do the request first (a lost answer)."""
        with self._lock:
            self._faults.append(_Fault(n, status, path_contains, method, after, retry_after))

    def rate_limit(self, reset_in_secs: float, *, status: int = 403) -> None:
        """Spend the rate limit until ``reset_in_secs`` from now: 403 with remaining 0, or 429 with retry-after."""
        with self._lock:
            self._rate.update(remaining=0, reset=self.now() + reset_in_secs, status=status)

    def count(self, method: str, path_prefix: str) -> int:
        """How many ``method`` requests arrived for a path starting with ``path_prefix``."""
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # ---- the world, as a test sets it up -----------------------------------------------------

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        labels: Iterable[str] = (),
        assignee: str | None = None,
        state: str = "open",
        user: str = "octocat",
    ) -> JSON:
        with self._lock:
            record = self._new_item(repo, "issue", title, body, user, labels=labels,
                                    assignees=[assignee] if assignee else [])
            if state == "closed":
                self._close(record, "completed")
            self._save()
            return self._render_issue(repo, record)

    def edit_issue(self, repo: str, number: int, **fields: Any) -> JSON:
        """Change an issue as a person would on github.com (title, body, state, labels, assignees …)."""
        with self._lock:
            record = self._item(repo, number)
            self._patch_item(repo, record, fields)
            self._save()
            return self._render_issue(repo, record)

    def close_issue(self, repo: str, number: int, reason: str = "completed") -> JSON:
        return self.edit_issue(repo, number, state="closed", state_reason=reason)

    def delete_issue(self, repo: str, number: int) -> None:
        """Delete an issue as an admin would: it leaves every listing, and asking for it answers 410 Gone."""
        with self._lock:
            record = self._item(repo, number)
            record["deleted"] = True
            self._save()

    def issue(self, repo: str, number: int) -> JSON:
        with self._lock:
            return self._render_issue(repo, self._item(repo, number))

    def comments(self, repo: str, number: int) -> list[JSON]:
        with self._lock:
            return [self._render_comment(repo, c) for c in self._repo(repo)["comments"] if c["number"] == number]

    def add_comment(self, repo: str, number: int, body: str, user: str = "octocat") -> JSON:
        """A comment by a person (not by the token's account)."""
        with self._lock:
            comment = self._new_comment(repo, self._item(repo, number), body, user)
            self._save()
            return self._render_comment(repo, comment)

    def add_check_run(
        self,
        repo: str,
        sha: str,
        name: str,
        status: str = "completed",
        conclusion: str | None = "failure",
        summary: str = "",
        text: str = "",
        title: str | None = None,
        annotations: Iterable[JSON] = (),
    ) -> JSON:
        """A check run on ``sha`` (a sha or a branch name); ``annotations`` as the Checks API takes them
        (``path``, ``start_line``, ``annotation_level``, ``message``, optional ``end_line``, ``title``)."""
        assert status in _CHECK_STATUSES and conclusion in _CONCLUSIONS, (status, conclusion)
        with self._lock:
            moment = self.now()
            run = {"id": self._next_id(), "name": name, "head_sha": self._resolve_ref(repo, sha) or sha,
                   "status": status, "conclusion": conclusion if status == "completed" else None,
                   "started_at": moment, "completed_at": moment if status == "completed" else None,
                   "output": {"title": title or (f"{name}: {conclusion}" if status == "completed" else name),
                              "summary": summary, "text": text},
                   "annotations": [dict(a) for a in annotations]}
            self._repo(repo)["check_runs"].append(run)
            self._save()
            return self._render_check_run(repo, run)

    def update_check_run(self, repo: str, run_id: int, **fields: Any) -> JSON:
        """Move a check run on (``status="completed", conclusion="success"``; ``summary``/``text`` go in output)."""
        with self._lock:
            run = next((r for r in self._repo(repo)["check_runs"] if r["id"] == run_id), None)
            if run is None:
                raise KeyError(f"no check run {run_id} in {repo}")
            for key in ("summary", "text", "title"):
                if key in fields:
                    run["output"][key] = fields.pop(key)
            run.update(fields)
            if run["status"] == "completed" and run.get("completed_at") is None:
                run["completed_at"] = self.now()
            self._save()
            return self._render_check_run(repo, run)

    def add_review(
        self,
        repo: str,
        pr_number: int,
        state: str,
        body: str = "",
        commit_id: str | None = None,
        user: str = "reviewer",
    ) -> JSON:
        assert state in _REVIEW_STATES, state
        with self._lock:
            record = self._pull(repo, pr_number)
            review = {"id": self._next_id(), "number": pr_number, "state": state, "body": body, "user": user,
                      "commit_id": commit_id or self._head_sha(repo, record), "submitted_at": self.now()}
            self._repo(repo)["reviews"].append(review)
            self._touch(record)
            self._save()
            return self._render_review(repo, review)

    def add_review_comment(
        self,
        repo: str,
        pr_number: int,
        path: str,
        line: int,
        body: str,
        commit_id: str | None = None,
        user: str = "reviewer",
    ) -> JSON:
        with self._lock:
            record = self._pull(repo, pr_number)
            moment = self.now()
            comment = {"id": self._next_id(), "number": pr_number, "path": path, "line": line, "body": body,
                       "user": user, "commit_id": commit_id or self._head_sha(repo, record),
                       "created_at": moment, "updated_at": moment}
            self._repo(repo)["review_comments"].append(comment)
            self._touch(record)
            self._save()
            return self._render_review_comment(repo, comment)

    def merge_by_person(self, repo: str, number: int, method: str = "merge", user: str = "maintainer") -> JSON:
        """Merge the pull request from the web page (no sha check); AssertionError when GitHub would refuse."""
        with self._lock:
            record = self._pull(repo, number)
            try:
                self._merge(repo, record, None, method, user)
            except _Reply as reply:
                raise AssertionError(f"GitHub would refuse this merge: {reply.body}") from None
            self._save()
            return self._render_pull(repo, record)

    def close_pull(self, repo: str, number: int) -> JSON:
        with self._lock:
            record = self._pull(repo, number)
            self._close(record, None)
            self._save()
            return self._render_pull(repo, record)

    def pull(self, repo: str, number: int) -> JSON:
        with self._lock:
            return self._render_pull(repo, self._pull(repo, number))

    def pulls(self, repo: str) -> list[JSON]:
        with self._lock:
            return [self._render_pull(repo, r) for r in self._items(repo) if r["kind"] == "pull"]

    def push(self, repo: str, branch: str, sha: str | None = None) -> str:
        """Without ``git_dir``: point ``branch`` at ``sha`` (default: a new made-up commit); returns it."""
        assert self.git_dir is None, "with git_dir, push to the bare repository itself"
        with self._lock:
            branches = self._repo(repo)["branches"]
            branches[branch] = sha or _fake_sha(repo, branch, len(branches), self._next_id())
            self._save()
            return str(branches[branch])

    def set_mergeable(self, repo: str, number: int, mergeable: bool | None) -> None:
        """Override what GitHub says of the PR's mergeability (None: still computing)."""
        with self._lock:
            self._pull(repo, number)["mergeable_override"] = mergeable if mergeable is not None else "unknown"

    # ---- state -------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._state["next_id"] += 1
        return int(self._state["next_id"])

    def _repo(self, repo: str) -> JSON:
        repos = self._state["repos"]
        if repo not in repos:
            repos[repo] = {"next_number": 1, "items": {}, "comments": [], "reviews": [], "review_comments": [],
                           "check_runs": [], "branches": {}, "labels": {}}
        return repos[repo]  # type: ignore[no-any-return]

    def _items(self, repo: str) -> list[JSON]:
        return [record for record in self._repo(repo)["items"].values() if not record.get("deleted")]

    def _item(self, repo: str, number: int) -> JSON:
        record = self._repo(repo)["items"].get(str(number))
        if record is None:
            raise _not_found()
        if record.get("deleted"):
            raise _fail(410, "This issue was deleted")
        return record  # type: ignore[no-any-return]

    def _pull(self, repo: str, number: int) -> JSON:
        record = self._item(repo, number)
        if record["kind"] != "pull":
            raise _not_found()
        return record

    def _new_item(
        self, repo: str, kind: str, title: str, body: str | None, user: str, *,
        labels: Iterable[str] = (), assignees: Iterable[str] = (),
    ) -> JSON:
        state = self._repo(repo)
        number = state["next_number"]
        state["next_number"] += 1
        moment = self.now()
        record = {"kind": kind, "id": self._next_id(), "number": number, "title": title, "body": body,
                  "state": "open", "state_reason": None, "labels": [], "assignees": list(assignees), "user": user,
                  "created_at": moment, "updated_at": moment, "closed_at": None}
        self._set_labels(repo, record, labels)
        state["items"][str(number)] = record
        return record

    def _set_labels(self, repo: str, record: JSON, names: Iterable[str]) -> None:
        known = self._repo(repo)["labels"]
        record["labels"] = []
        for name in names:
            if name not in known:  # GitHub creates a label on first use
                known[name] = {"id": self._next_id(), "color": "ededed"}
            if name not in record["labels"]:
                record["labels"].append(name)

    def _touch(self, record: JSON) -> None:
        record["updated_at"] = self.now()

    def _close(self, record: JSON, reason: str | None) -> None:
        if record["state"] != "closed":
            record.update(state="closed", state_reason=reason, closed_at=self.now())
            self._touch(record)

    def _patch_item(self, repo: str, record: JSON, fields: JSON) -> None:
        unknown = set(fields) - {"title", "body", "state", "state_reason", "labels", "assignees", "assignee",
                                 "milestone", "base"}
        if unknown:
            raise _invalid("Issue", sorted(unknown)[0])
        for key in ("title", "body"):
            if key in fields:
                record[key] = fields[key]
        if "labels" in fields:
            self._set_labels(repo, record, [lab["name"] if isinstance(lab, dict) else str(lab) for lab in fields["labels"]])
        if "assignees" in fields:
            record["assignees"] = list(fields["assignees"])
        if "assignee" in fields:
            record["assignees"] = [fields["assignee"]] if fields["assignee"] else []
        if "base" in fields and record["kind"] == "pull":
            record["base"] = fields["base"]
        state = fields.get("state")
        if state not in (None, "open", "closed"):
            raise _invalid("Issue", "state")
        if state == "closed":
            self._close(record, fields.get("state_reason", "completed") if record["kind"] == "issue" else None)
        elif state == "open" and record["state"] == "closed":
            if record.get("merged_at"):
                raise _invalid("PullRequest", "state", message="Cannot reopen a merged pull request")
            record.update(state="open", state_reason="reopened" if record["kind"] == "issue" else None, closed_at=None)
        self._touch(record)

    def _new_comment(self, repo: str, record: JSON, body: str, user: str) -> JSON:
        moment = self.now()
        comment = {"id": self._next_id(), "number": record["number"], "body": body, "user": user,
                   "created_at": moment, "updated_at": moment}
        self._repo(repo)["comments"].append(comment)
        self._touch(record)  # a comment bumps the issue's updated_at, as on GitHub
        return comment

    def _save(self) -> None:
        if self.state_file is not None:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._state, indent=1))
            os.replace(tmp, self.state_file)

    # ---- git ---------------------------------------------------------------------------------

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.git_dir is not None
        env = {**os.environ, **_GIT_ENV}
        env.pop("GIT_DIR", None)
        return subprocess.run(["git", f"--git-dir={self.git_dir}", *args], env=env, check=check,
                              capture_output=True, text=True)

    def _resolve_ref(self, repo: str, ref: str) -> str | None:
        """The sha a branch name (or sha) stands for now, None when there is no such branch."""
        if self.git_dir is not None:
            done = self._git("rev-parse", "--verify", "-q", f"refs/heads/{ref}^{{commit}}", check=False)
            if done.returncode == 0:
                return done.stdout.strip()
            return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else None
        branches = self._repo(repo)["branches"]
        if ref in branches:
            return str(branches[ref])
        return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else None

    def _branch_sha(self, repo: str, branch: str) -> str | None:
        sha = self._resolve_ref(repo, branch)
        if sha is None and self.git_dir is None:
            sha = self._repo(repo)["branches"].setdefault(branch, _fake_sha(repo, branch, 0))
        return sha

    def _head_sha(self, repo: str, record: JSON) -> str:
        if record.get("merged_at") or record["state"] == "closed":
            return str(record["head_sha"])  # frozen when it was merged or closed
        sha = self._branch_sha(repo, record["head"]) or record["head_sha"]
        record["head_sha"] = sha
        return str(sha)

    def _mergeable(self, repo: str, record: JSON) -> bool | None:
        override = record.get("mergeable_override")
        if override is not None:
            return None if override == "unknown" else bool(override)
        if record["state"] != "open":
            return None
        if self.git_dir is None:
            return True
        base = self._branch_sha(repo, record["base"])
        head = self._head_sha(repo, record)
        return base is not None and self._git("merge-tree", "--write-tree", base, head, check=False).returncode == 0

    def _merge(self, repo: str, record: JSON, sha: str | None, method: str, user: str) -> str:
        if method not in ("merge", "squash", "rebase"):
            raise _invalid("PullRequest", "merge_method")
        if record["state"] != "open":
            raise _fail(405, "Pull Request is not mergeable")
        head = self._head_sha(repo, record)
        if sha is not None and sha != head:
            raise _fail(409, "Head branch was modified. Review and try the merge again.")
        if self._mergeable(repo, record) is False:
            raise _fail(405, "Pull Request is not mergeable")
        if self.git_dir is None:
            merged = _fake_sha(repo, record["number"], "merged", head)
            self._repo(repo)["branches"][record["base"]] = merged
        else:
            merged = self._git_merge(record, head, method)
        record.update(merged_at=self.now(), merge_commit_sha=merged, merged_by=user, merge_method=method)
        self._close(record, None)
        return merged

    def _git_merge(self, record: JSON, head: str, method: str) -> str:
        base_ref = f"refs/heads/{record['base']}"
        base = self._git("rev-parse", base_ref).stdout.strip()
        if method == "rebase":
            if self._git("merge-base", "--is-ancestor", base, head, check=False).returncode != 0:
                raise _fail(405, "This branch can't be rebased")
            tip = base
            for commit in self._git("rev-list", "--reverse", f"{base}..{head}").stdout.split():
                tree = self._git("rev-parse", f"{commit}^{{tree}}").stdout.strip()
                message = self._git("log", "-1", "--format=%B", commit).stdout
                tip = self._git("commit-tree", tree, "-p", tip, "-m", message).stdout.strip()
            merged = tip
        else:
            tree = self._git("merge-tree", "--write-tree", base, head).stdout.split()[0]
            title = f"{record['title']} (#{record['number']})"
            if method == "merge":
                message = f"Merge pull request #{record['number']} from {record['head']}\n\n{record['title']}"
                merged = self._git("commit-tree", tree, "-p", base, "-p", head, "-m", message).stdout.strip()
            else:
                merged = self._git("commit-tree", tree, "-p", base, "-m", title).stdout.strip()
        self._git("update-ref", base_ref, merged, base)
        return merged

    # ---- rendering: GitHub's JSON shapes ------------------------------------------------------

    def _user(self, login: str) -> JSON:
        return {"login": login, "id": _user_id(login), "node_id": f"U_{_user_id(login)}", "type": "User",
                "site_admin": False, "html_url": f"{self.url}/{login}", "url": f"{self.url}/users/{login}"}

    def _labels(self, repo: str, names: list[str]) -> list[JSON]:
        known = self._repo(repo)["labels"]
        return [{"id": known[name]["id"], "node_id": f"LA_{known[name]['id']}", "name": name,
                 "url": f"{self.url}/repos/{repo}/labels/{quote(name)}", "color": known[name]["color"],
                 "default": False, "description": None} for name in names]

    def _kind_path(self, repo: str, number: int) -> str:
        return "pull" if self._item(repo, number)["kind"] == "pull" else "issues"

    def _render_issue(self, repo: str, record: JSON) -> JSON:
        n = record["number"]
        kind = self._kind_path(repo, n)
        api = f"{self.url}/repos/{repo}/issues/{n}"
        data = {
            "id": record["id"], "node_id": f"I_{record['id']}", "number": n, "title": record["title"],
            "body": record["body"], "state": record["state"], "state_reason": record["state_reason"],
            "locked": False, "labels": self._labels(repo, record["labels"]),
            "assignee": self._user(record["assignees"][0]) if record["assignees"] else None,
            "assignees": [self._user(a) for a in record["assignees"]], "milestone": None,
            "user": self._user(record["user"]), "author_association": "OWNER",
            "comments": sum(1 for c in self._repo(repo)["comments"] if c["number"] == n),
            "created_at": _iso(record["created_at"]), "updated_at": _iso(record["updated_at"]),
            "closed_at": _iso(record["closed_at"]),
            "url": api, "html_url": f"{self.url}/{repo}/{kind}/{n}", "repository_url": f"{self.url}/repos/{repo}",
            "comments_url": f"{api}/comments", "labels_url": f"{api}/labels{{/name}}", "events_url": f"{api}/events",
        }
        if record["kind"] == "pull":
            data["pull_request"] = {"url": f"{self.url}/repos/{repo}/pulls/{n}", "html_url": data["html_url"],
                                    "diff_url": f"{data['html_url']}.diff", "patch_url": f"{data['html_url']}.patch",
                                    "merged_at": _iso(record.get("merged_at"))}
        return data

    def _render_pull(self, repo: str, record: JSON, *, listed: bool = False) -> JSON:
        n = record["number"]
        owner = repo.split("/")[0]
        repo_json = {"id": _user_id(repo), "full_name": repo, "name": repo.split("/")[1], "owner": self._user(owner),
                     "html_url": f"{self.url}/{repo}", "url": f"{self.url}/repos/{repo}"}
        head = self._head_sha(repo, record)
        base = self._branch_sha(repo, record["base"])
        data = {
            "id": record["id"], "node_id": f"PR_{record['id']}", "number": n, "state": record["state"],
            "locked": False, "title": record["title"], "body": record["body"], "user": self._user(record["user"]),
            "labels": self._labels(repo, record["labels"]), "assignees": [self._user(a) for a in record["assignees"]],
            "draft": record.get("draft", False), "created_at": _iso(record["created_at"]),
            "updated_at": _iso(record["updated_at"]), "closed_at": _iso(record["closed_at"]),
            "merged_at": _iso(record.get("merged_at")), "merge_commit_sha": record.get("merge_commit_sha"),
            "url": f"{self.url}/repos/{repo}/pulls/{n}", "html_url": f"{self.url}/{repo}/pull/{n}",
            "issue_url": f"{self.url}/repos/{repo}/issues/{n}",
            "head": {"label": f"{owner}:{record['head']}", "ref": record["head"], "sha": head,
                     "user": self._user(owner), "repo": repo_json},
            "base": {"label": f"{owner}:{record['base']}", "ref": record["base"], "sha": base,
                     "user": self._user(owner), "repo": repo_json},
            "author_association": "OWNER",
        }
        if not listed:  # only the single-PR answers carry these, as on GitHub
            mergeable = self._mergeable(repo, record)
            data.update(
                merged=bool(record.get("merged_at")), mergeable=mergeable,
                mergeable_state={True: "clean", False: "dirty", None: "unknown"}[mergeable],
                merged_by=self._user(record["merged_by"]) if record.get("merged_by") else None,
                comments=sum(1 for c in self._repo(repo)["comments"] if c["number"] == n),
                review_comments=sum(1 for c in self._repo(repo)["review_comments"] if c["number"] == n),
            )
        return data

    def _render_comment(self, repo: str, comment: JSON) -> JSON:
        n = comment["number"]
        return {"id": comment["id"], "node_id": f"IC_{comment['id']}", "body": comment["body"],
                "user": self._user(comment["user"]), "author_association": "OWNER",
                "created_at": _iso(comment["created_at"]), "updated_at": _iso(comment["updated_at"]),
                "url": f"{self.url}/repos/{repo}/issues/comments/{comment['id']}",
                "html_url": f"{self.url}/{repo}/{self._kind_path(repo, n)}/{n}#issuecomment-{comment['id']}",
                "issue_url": f"{self.url}/repos/{repo}/issues/{n}"}

    def _render_review(self, repo: str, review: JSON) -> JSON:
        n = review["number"]
        return {"id": review["id"], "node_id": f"PRR_{review['id']}", "user": self._user(review["user"]),
                "body": review["body"], "state": review["state"], "commit_id": review["commit_id"],
                "submitted_at": _iso(review["submitted_at"]), "author_association": "COLLABORATOR",
                "html_url": f"{self.url}/{repo}/pull/{n}#pullrequestreview-{review['id']}",
                "pull_request_url": f"{self.url}/repos/{repo}/pulls/{n}"}

    def _render_review_comment(self, repo: str, comment: JSON) -> JSON:
        n = comment["number"]
        return {"id": comment["id"], "node_id": f"PRRC_{comment['id']}", "pull_request_review_id": None,
                "path": comment["path"], "line": comment["line"], "original_line": comment["line"], "side": "RIGHT",
                "position": comment["line"], "body": comment["body"], "commit_id": comment["commit_id"],
                "original_commit_id": comment["commit_id"], "user": self._user(comment["user"]),
                "diff_hunk": "@@ -1 +1 @@", "created_at": _iso(comment["created_at"]),
                "updated_at": _iso(comment["updated_at"]), "author_association": "COLLABORATOR",
                "html_url": f"{self.url}/{repo}/pull/{n}#discussion_r{comment['id']}",
                "url": f"{self.url}/repos/{repo}/pulls/comments/{comment['id']}",
                "pull_request_url": f"{self.url}/repos/{repo}/pulls/{n}"}

    def _render_check_run(self, repo: str, run: JSON) -> JSON:
        return {"id": run["id"], "node_id": f"CR_{run['id']}", "name": run["name"], "head_sha": run["head_sha"],
                "status": run["status"], "conclusion": run["conclusion"], "external_id": str(run["id"]),
                "started_at": _iso(run["started_at"]), "completed_at": _iso(run["completed_at"]),
                "output": {**run["output"], "annotations_count": len(run.get("annotations") or []),
                           "annotations_url": f"{self.url}/repos/{repo}/check-runs/{run['id']}/annotations"},
                "html_url": f"{self.url}/{repo}/runs/{run['id']}", "details_url": f"{self.url}/{repo}/runs/{run['id']}",
                "url": f"{self.url}/repos/{repo}/check-runs/{run['id']}",
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}}

    # ---- the wire ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of GitHub
            server_version = "GitHub.com"
            sys_version = ""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload, headers = fake._answer(self.command, self.path, dict(self.headers.items()), raw)
                body = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                content_type = "text/html" if isinstance(payload, bytes) else "application/json; charset=utf-8"
                if body:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append((method, path))
            entry: JSON = {"method": method, "path": path, "query": query, "body": None}
            self.log.append(entry)
            status, payload, extra = self._respond(method, path, query, headers, raw, entry)
            entry["status"] = status
            return status, payload, {**self._rate_headers(), "X-GitHub-Request-Id": f"FAKE:{len(self.log)}", **extra}

    def _respond(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes, entry: JSON
    ) -> tuple[int, Any, dict[str, str]]:
        fault = next((f for f in self._faults if f.matches(method, path)), None)
        if fault is not None:
            fault.left -= 1
            if fault.left <= 0:
                self._faults.remove(fault)
            if not fault.after:
                return self._fault_answer(fault)
        try:
            self._check_auth(headers)
            self._check_rate(path)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise _fail(400, "Problems parsing JSON") from None
            entry["body"] = body
            status, payload, extra = self._route(method, path, query, body)
            if status < 400 and method != "GET":
                self._save()
        except _Reply as reply:
            return reply.status, reply.body, reply.headers
        if fault is not None:  # the request took effect; its answer is lost
            return self._fault_answer(fault)
        return status, payload, extra

    def _fault_answer(self, fault: _Fault) -> tuple[int, Any, dict[str, str]]:
        status = fault.status
        if status == 401:
            return 401, {"message": "Bad credentials", "documentation_url": _DOCS}, {}
        if status == 403:
            return 403, {"message": "Resource not accessible by personal access token", "documentation_url": _DOCS}, {}
        if status == 429:
            return 429, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                         "documentation_url": _DOCS}, {"Retry-After": str(fault.retry_after)}
        if status == 502:  # GitHub's load balancer answers HTML, not JSON
            return 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {}
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return status, {"message": phrase, "documentation_url": _DOCS}, {}

    def _check_auth(self, headers: dict[str, str]) -> None:
        if self.token is None:
            return
        given = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() not in ("bearer", "token") or value.strip() != self.token:
            raise _fail(401, "Bad credentials")

    def _check_rate(self, path: str) -> None:
        rate = self._rate
        now = self.now()
        if now >= rate["reset"]:
            rate.update(remaining=rate["limit"], reset=now + _WINDOW_SECS, status=403)
        if path == "/rate_limit":
            return  # free, as on GitHub
        if rate["remaining"] <= 0:
            if rate["status"] == 429:
                raise _Reply(429, {"message": "API rate limit exceeded", "documentation_url": _DOCS},
                             {"Retry-After": str(max(1, math.ceil(rate["reset"] - now)))})
            raise _fail(403, f"API rate limit exceeded for user ID {_user_id(self.login)}.")
        rate["remaining"] -= 1

    def _rate_headers(self) -> dict[str, str]:
        rate = self._rate
        return {"X-RateLimit-Limit": str(rate["limit"]), "X-RateLimit-Remaining": str(max(0, rate["remaining"])),
                "X-RateLimit-Reset": str(int(rate["reset"])), "X-RateLimit-Used": str(rate["limit"] - max(0, rate["remaining"])),
                "X-RateLimit-Resource": "core"}

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/user" and method == "GET":
            return 200, {**self._user(self.login), "name": "animus bot"}, {}
        if path == "/rate_limit" and method == "GET":
            core = {"limit": self._rate["limit"], "remaining": max(0, self._rate["remaining"]),
                    "reset": int(self._rate["reset"]), "used": self._rate["limit"] - max(0, self._rate["remaining"])}
            return 200, {"resources": {"core": core}, "rate": core}, {}
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if match is None:
            raise _not_found()
        repo, rest = match.group(1), match.group(2) or ""
        for verb, pattern, handler in _ROUTES:
            found = re.fullmatch(pattern, rest)
            if found and verb == method:
                return handler(self, repo, query, body, *found.groups())  # type: ignore[no-any-return]
        raise _not_found()

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of ``items`` and GitHub's Link header (per_page 30 by default, at most 100)."""
        try:
            per_page = max(1, min(100, int(query.get("per_page") or 30)))
            page = max(1, int(query.get("page") or 1))
        except ValueError:
            raise _invalid("Query", "per_page") from None
        last = max(1, math.ceil(len(items) / per_page))
        links = []

        def link(number: int, rel: str) -> str:
            return f'<{self.url}{path}?{urlencode({**query, "per_page": per_page, "page": number})}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(links)} if links else {})

    # ---- endpoints ---------------------------------------------------------------------------

    def _get_repo(self, repo: str, query: JSON, body: Any) -> tuple[int, Any, dict[str, str]]:
        owner, name = repo.split("/")
        return 200, {"id": _user_id(repo), "full_name": repo, "name": name, "owner": self._user(owner),
                     "private": False, "default_branch": "main", "html_url": f"{self.url}/{repo}",
                     "has_issues": True, "permissions": {"admin": False, "push": True, "pull": True}}, {}

    def _list_issues(self, repo: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("Issue", "state")
        labels = [lab.strip() for lab in query.get("labels", "").split(",") if lab.strip()]
        assignee = query.get("assignee")
        since = _parse_iso(query["since"]) if query.get("since") else None
        items = []
        for record in self._items(repo):
            if state != "all" and record["state"] != state:
                continue
            if not set(labels) <= set(record["labels"]):
                continue
            if assignee == "none" and record["assignees"]:
                continue
            if assignee == "*" and not record["assignees"]:
                continue
            if assignee not in (None, "none", "*") and assignee not in record["assignees"]:
                continue
            if since is not None and int(record["updated_at"]) < int(since):
                continue
            items.append(record)
        sort = query.get("sort", "created")
        field = {"created": "created_at", "updated": "updated_at"}.get(sort, "created_at")
        items.sort(key=lambda r: (r[field], r["number"]), reverse=query.get("direction", "desc") == "desc")
        page, headers = self._page(f"/repos/{repo}/issues", query, items)
        return 200, [self._render_issue(repo, r) for r in page], headers

    def _create_issue(self, repo: str, query: JSON, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not body.get("title"):
            raise _invalid("Issue", "title", "missing_field")
        assignees = list(body.get("assignees") or ([body["assignee"]] if body.get("assignee") else []))
        record = self._new_item(repo, "issue", str(body["title"]), body.get("body"), self.login,
                                labels=body.get("labels") or (), assignees=assignees)
        return 201, self._render_issue(repo, record), {}

    def _get_issue(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        return 200, self._render_issue(repo, self._item(repo, int(number))), {}

    def _update_issue(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        record = self._item(repo, int(number))
        self._patch_item(repo, record, body if isinstance(body, dict) else {})
        return 200, self._render_issue(repo, record), {}

    def _add_labels(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        record = self._item(repo, int(number))
        names = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(names, list) or not names:
            raise _invalid("Label", "labels", "missing_field")
        self._set_labels(repo, record, [*record["labels"], *map(str, names)])
        self._touch(record)
        return 200, self._labels(repo, record["labels"]), {}

    def _remove_label(self, repo: str, query: JSON, body: Any, number: str, name: str) -> tuple[int, Any, dict[str, str]]:
        record = self._item(repo, int(number))
        if name not in record["labels"]:
            raise _fail(404, "Label does not exist")
        record["labels"].remove(name)
        self._touch(record)
        return 200, self._labels(repo, record["labels"]), {}

    def _list_comments(self, repo: str, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        self._item(repo, int(number))
        since = _parse_iso(query["since"]) if query.get("since") else None
        found = [c for c in self._repo(repo)["comments"] if c["number"] == int(number)
                 and (since is None or int(c["updated_at"]) >= int(since))]
        page, headers = self._page(f"/repos/{repo}/issues/{number}/comments", query, found)
        return 200, [self._render_comment(repo, c) for c in page], headers

    def _create_comment(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        record = self._item(repo, int(number))
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            raise _invalid("IssueComment", "body", "missing_field")
        return 201, self._render_comment(repo, self._new_comment(repo, record, body["body"], self.login)), {}

    def _find_comment(self, repo: str, comment_id: str) -> JSON:
        comment = next((c for c in self._repo(repo)["comments"] if c["id"] == int(comment_id)), None)
        if comment is None:
            raise _not_found()
        return comment

    def _get_comment(self, repo: str, query: JSON, body: Any, comment_id: str) -> tuple[int, Any, dict[str, str]]:
        return 200, self._render_comment(repo, self._find_comment(repo, comment_id)), {}

    def _edit_comment(self, repo: str, query: JSON, body: Any, comment_id: str) -> tuple[int, Any, dict[str, str]]:
        comment = self._find_comment(repo, comment_id)
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            raise _invalid("IssueComment", "body", "missing_field")
        comment.update(body=body["body"], updated_at=self.now())
        self._touch(self._item(repo, comment["number"]))
        return 200, self._render_comment(repo, comment), {}

    def _list_pulls(self, repo: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _invalid("PullRequest", "state")
        head = query.get("head")
        owner = repo.split("/")[0]
        found = []
        for record in self._items(repo):
            if record["kind"] != "pull" or (state != "all" and record["state"] != state):
                continue
            if query.get("base") and record["base"] != query["base"]:
                continue
            if head and ":" in head:  # GitHub ignores a head filter without its owner: part
                head_owner, _, branch = head.partition(":")
                if head_owner.lower() != owner.lower() or record["head"] != branch:
                    continue
            found.append(record)
        found.sort(key=lambda r: r["number"], reverse=query.get("direction", "desc") == "desc")
        page, headers = self._page(f"/repos/{repo}/pulls", query, found)
        return 200, [self._render_pull(repo, r, listed=True) for r in page], headers

    def _create_pull(self, repo: str, query: JSON, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            raise _invalid("PullRequest", "head", "missing_field")
        for key in ("head", "base", "title"):
            if not body.get(key):
                raise _invalid("PullRequest", key, "missing_field")
        owner = repo.split("/")[0]
        head_owner, _, branch = str(body["head"]).rpartition(":")
        if head_owner and head_owner.lower() != owner.lower():
            raise _invalid("PullRequest", "head")  # forks are not part of this fake
        base = str(body["base"])
        if self._branch_sha(repo, branch) is None:
            raise _invalid("PullRequest", "head")
        if self._branch_sha(repo, base) is None:
            raise _invalid("PullRequest", "base")
        for record in self._items(repo):
            if record["kind"] == "pull" and record["state"] == "open" and record["head"] == branch and record["base"] == base:
                raise _invalid("PullRequest", "head", message=f"A pull request already exists for {owner}:{branch}.")
        if self._branch_sha(repo, branch) == self._branch_sha(repo, base):
            raise _invalid("PullRequest", "head", message=f"No commits between {base} and {branch}")
        record = self._new_item(repo, "pull", str(body["title"]), body.get("body"), self.login)
        record.update(head=branch, base=base, head_sha=self._branch_sha(repo, branch), draft=bool(body.get("draft")),
                      merged_at=None, merge_commit_sha=None, merged_by=None, mergeable_override=None)
        return 201, self._render_pull(repo, record), {}

    def _get_pull(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        return 200, self._render_pull(repo, self._pull(repo, int(number))), {}

    def _update_pull(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        record = self._pull(repo, int(number))
        self._patch_item(repo, record, body if isinstance(body, dict) else {})
        return 200, self._render_pull(repo, record), {}

    def _list_reviews(self, repo: str, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        self._pull(repo, int(number))
        found = [r for r in self._repo(repo)["reviews"] if r["number"] == int(number)]
        page, headers = self._page(f"/repos/{repo}/pulls/{number}/reviews", query, found)
        return 200, [self._render_review(repo, r) for r in page], headers

    def _list_review_comments(self, repo: str, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        self._pull(repo, int(number))
        found = [c for c in self._repo(repo)["review_comments"] if c["number"] == int(number)]
        page, headers = self._page(f"/repos/{repo}/pulls/{number}/comments", query, found)
        return 200, [self._render_review_comment(repo, c) for c in page], headers

    def _merge_pull(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        record = self._pull(repo, int(number))
        fields = body if isinstance(body, dict) else {}
        merged = self._merge(repo, record, fields.get("sha"), str(fields.get("merge_method") or "merge"), self.login)
        return 200, {"sha": merged, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _create_check_run(self, repo: str, query: JSON, body: Any) -> tuple[int, Any, dict[str, str]]:
        """POST /check-runs (the Checks API, as CI reports): ``name``, ``head_sha``, ``status``, ``conclusion``, ``output``."""
        if not isinstance(body, dict) or not body.get("name"):
            raise _invalid("CheckRun", "name", "missing_field")
        sha = self._resolve_ref(repo, str(body.get("head_sha") or "")) if body.get("head_sha") else None
        if sha is None:
            raise _invalid("CheckRun", "head_sha", message="No commit found for SHA: " + str(body.get("head_sha")))
        status = str(body.get("status") or ("completed" if body.get("conclusion") else "queued"))
        conclusion = body.get("conclusion")
        if status not in _CHECK_STATUSES or conclusion not in _CONCLUSIONS or (status == "completed") != (conclusion is not None):
            raise _invalid("CheckRun", "conclusion")
        output = body.get("output") if isinstance(body.get("output"), dict) else {}
        run = self.add_check_run(repo, sha, str(body["name"]), status=status, conclusion=conclusion,
                                 summary=str(output.get("summary") or ""), text=str(output.get("text") or ""),
                                 title=output.get("title"), annotations=output.get("annotations") or ())
        return 201, run, {}

    def _check_run_annotations(self, repo: str, query: dict[str, str], body: Any, run_id: str) -> tuple[int, Any, dict[str, str]]:
        run = next((r for r in self._repo(repo)["check_runs"] if r["id"] == int(run_id)), None)
        if run is None:
            raise _not_found()
        rendered = [{"path": a.get("path", ""), "start_line": a.get("start_line", 1),
                     "end_line": a.get("end_line", a.get("start_line", 1)), "start_column": a.get("start_column"),
                     "end_column": a.get("end_column"), "annotation_level": a.get("annotation_level", "failure"),
                     "title": a.get("title"), "message": a.get("message", ""), "raw_details": a.get("raw_details"),
                     "blob_href": f"{self.url}/{repo}/blob/{run['head_sha']}/{a.get('path', '')}"}
                    for a in run.get("annotations") or []]
        page, headers = self._page(f"/repos/{repo}/check-runs/{run_id}/annotations", query, rendered)
        return 200, page, headers

    def _create_review(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        """POST /pulls/N/reviews: ``event`` APPROVE | REQUEST_CHANGES | COMMENT, ``body``, ``commit_id``, line ``comments``."""
        fields = body if isinstance(body, dict) else {}
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            str(fields.get("event") or ""))
        if state is None:
            raise _invalid("PullRequestReview", "event")
        if state != "APPROVED" and not fields.get("body"):
            raise _fail(422, "Unprocessable Entity", errors=[f"Review body is required for {fields['event']}"])
        record = self._pull(repo, int(number))
        commit = self._resolve_ref(repo, str(fields["commit_id"])) if fields.get("commit_id") else None
        for comment in fields.get("comments") or []:
            if not isinstance(comment, dict) or not comment.get("path") or not comment.get("body"):
                raise _invalid("PullRequestReviewComment", "path", "missing_field")
            self.add_review_comment(repo, int(number), str(comment["path"]), int(comment.get("line") or 1),
                                    str(comment["body"]), commit_id=commit, user=self.login)
        review = self.add_review(repo, int(record["number"]), state, str(fields.get("body") or ""), commit_id=commit,
                                 user=self.login)
        return 200, review, {}

    def _create_review_comment(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        """POST /pulls/N/comments: one line comment (``body``, ``path``, ``line``, ``commit_id``)."""
        fields = body if isinstance(body, dict) else {}
        if not fields.get("body") or not fields.get("path"):
            raise _invalid("PullRequestReviewComment", "path" if fields.get("body") else "body", "missing_field")
        commit = self._resolve_ref(repo, str(fields["commit_id"])) if fields.get("commit_id") else None
        comment = self.add_review_comment(repo, int(number), str(fields["path"]), int(fields.get("line") or 1),
                                          str(fields["body"]), commit_id=commit, user=self.login)
        return 201, comment, {}

    def _is_merged(self, repo: str, query: JSON, body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        if self._pull(repo, int(number)).get("merged_at"):
            return 204, None, {}
        raise _not_found()

    def _check_runs(self, repo: str, query: dict[str, str], body: Any, ref: str) -> tuple[int, Any, dict[str, str]]:
        sha = self._resolve_ref(repo, ref)
        if sha is None:
            raise _fail(422, f"No commit found for SHA: {ref}")
        runs = [r for r in self._repo(repo)["check_runs"] if r["head_sha"] == sha]
        if query.get("check_name"):
            runs = [r for r in runs if r["name"] == query["check_name"]]
        if query.get("filter", "latest") == "latest":  # GitHub's default: the newest run of each name
            newest: dict[str, JSON] = {}
            for run in runs:
                newest[run["name"]] = run
            runs = list(newest.values())
        page, headers = self._page(f"/repos/{repo}/commits/{ref}/check-runs", query, runs)
        return 200, {"total_count": len(runs), "check_runs": [self._render_check_run(repo, r) for r in page]}, headers


_ROUTES: list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]] = [
    ("GET", r"", FakeGitHub._get_repo),
    ("GET", r"/issues", FakeGitHub._list_issues),
    ("POST", r"/issues", FakeGitHub._create_issue),
    ("GET", r"/issues/comments/(\d+)", FakeGitHub._get_comment),
    ("PATCH", r"/issues/comments/(\d+)", FakeGitHub._edit_comment),
    ("GET", r"/issues/(\d+)", FakeGitHub._get_issue),
    ("PATCH", r"/issues/(\d+)", FakeGitHub._update_issue),
    ("POST", r"/issues/(\d+)/labels", FakeGitHub._add_labels),
    ("DELETE", r"/issues/(\d+)/labels/(.+)", FakeGitHub._remove_label),
    ("GET", r"/issues/(\d+)/comments", FakeGitHub._list_comments),
    ("POST", r"/issues/(\d+)/comments", FakeGitHub._create_comment),
    ("GET", r"/pulls", FakeGitHub._list_pulls),
    ("POST", r"/pulls", FakeGitHub._create_pull),
    ("GET", r"/pulls/(\d+)", FakeGitHub._get_pull),
    ("PATCH", r"/pulls/(\d+)", FakeGitHub._update_pull),
    ("GET", r"/pulls/(\d+)/reviews", FakeGitHub._list_reviews),
    ("GET", r"/pulls/(\d+)/comments", FakeGitHub._list_review_comments),
    ("POST", r"/pulls/(\d+)/reviews", FakeGitHub._create_review),
    ("POST", r"/pulls/(\d+)/comments", FakeGitHub._create_review_comment),
    ("PUT", r"/pulls/(\d+)/merge", FakeGitHub._merge_pull),
    ("GET", r"/pulls/(\d+)/merge", FakeGitHub._is_merged),
    ("GET", r"/commits/([^/]+)/check-runs", FakeGitHub._check_runs),
    ("POST", r"/check-runs", FakeGitHub._create_check_run),
    ("GET", r"/check-runs/(\d+)/annotations", FakeGitHub._check_run_annotations),
]


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; the first stdout line is the URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-file", type=Path, default=None, help="JSON kept across restarts")
    parser.add_argument("--token", default=None, help="the one token accepted (default: any)")
    parser.add_argument("--git-dir", type=Path, default=None, help="a bare repository: PR heads follow its branches")
    args = parser.parse_args(argv)
    fake = FakeGitHub(token=args.token, git_dir=args.git_dir, state_file=args.state_file, port=args.port, host=args.host)
    print(fake.url, flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one GitHub REST client of animus: issues, comments, labels, pull requests, reviews, check runs.

Plain JSON in and out, in GitHub's own shapes. Every failure is one of these, and none of them ever
carries the token:

    GitError
      └── GitHubError              ``status``: the HTTP status (None: no answer), e.g. 409/405/422 of a refused write
            ├── GitHubAuthError    401, or a 403 that is not a rate limit          exit 5
            ├── GitHubRateLimited  429, or 403 with x-ratelimit-remaining: 0      exit 5, ``reset_at``
            ├── GitHubUnavailable  5xx, timeouts, connection errors               exit 5
            └── GitHubNotFound     404, or 410 (an issue that was deleted)        exit 3

The client never retries: its callers (a durable step, the issue poller) own the backoff.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from animus.domain.errors import (
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    GitError,
    InvalidInput,
    SpawnError,
)
from animus.git._remote import _scp_like, _strip_git_suffix, remote_url
from animus.procs import run_program

if TYPE_CHECKING:
    import httpx

DEFAULT_API_URL = "https://api.github.com"
_API_VERSION = "2022-11-28"
_PER_PAGE = 100
_MAX_PAGES = 500  # a Link chain that never ends is GitHub misbehaving, not a list to read to the end
_GH_TIMEOUT = 10.0
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_URL_SCHEMES = frozenset({"https", "http", "ssh", "git", "git+ssh", "ssh+git"})
# Two-part paths on these hosts are not GitHub repositories, whatever they look like.
_NOT_GITHUB = frozenset({"gitlab.com", "bitbucket.org"})


class GitHubError(GitError):
    """GitHub refused or failed a request; ``status`` is its HTTP status, None when it never answered."""

    code = "github_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, details=details, hint=hint)
        self.status = status


class GitHubAuthError(GitHubError):
    """No token, or GitHub rejected it (401), or the token may not do this (403, not a rate limit)."""

    code = "github_auth"
    exit_code = EXIT_UNAVAILABLE


class GitHubRateLimited(GitHubError):
    """GitHub's rate limit is spent (429, or 403 with no requests remaining); ``reset_at`` is unix seconds."""

    code = "github_rate_limited"
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, message: str, *, reset_at: float, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, status=status, details={"status": status, "reset_at": reset_at}, hint=hint)
        self.reset_at = reset_at


class GitHubUnavailable(GitHubError):
    """GitHub did not answer in time, could not be reached, or answered with a 5xx."""

    code = "github_unavailable"
    exit_code = EXIT_UNAVAILABLE


class GitHubNotFound(GitHubError):
    """GitHub answered 404: no such repository, issue or pull request (or the token cannot see it); or 410: deleted."""

    code = "github_not_found"
    exit_code = EXIT_NOT_FOUND


def github_token(token_env: str = "GITHUB_TOKEN", *, hostname: str | None = None) -> str:
    """The token in ``$token_env``, else the one `gh auth token` prints (when gh is on PATH), else GitHubAuthError."""
    value = os.environ.get(token_env, "").strip()
    if value:
        return value
    gh = shutil.which("gh")
    token = _gh_auth_token(gh, hostname) if gh else None
    if token:
        return token
    why = "`gh auth token` printed none" if gh else "the GitHub CLI (gh) is not installed"
    raise GitHubAuthError(
        f"no GitHub token: ${token_env} is not set and {why}",
        hint=f"set {token_env} to a GitHub token with access to the repository's issues and pull requests"
        " (or install gh and run `gh auth login`)",
    )


def _gh_auth_token(gh: str, hostname: str | None) -> str | None:
    argv = [gh, "auth", "token"] + (["--hostname", hostname] if hostname else [])
    env = {**os.environ, "GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1", "NO_COLOR": "1"}
    try:
        result = run_program(argv, env=env, timeout=_GH_TIMEOUT)
    except SpawnError:
        return None
    token = result.stdout.strip()
    if result.timed_out or result.returncode != 0 or not token or any(c.isspace() for c in token):
        return None
    return token


def repo_from_remote(url: str) -> str | None:
    """``owner/name`` of a GitHub (or GitHub Enterprise) remote URL, scp-like or not; None for anything else."""
    found = _github_remote(url)
    return found[1] if found else None


def _github_remote(url: str) -> tuple[str, str] | None:
    """``(host, owner/name)`` of a GitHub-style remote URL, or None (a local path, another forge, a deep path)."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() not in _URL_SCHEMES:
            return None
        host, path = parts.hostname or "", unquote(parts.path)
    else:
        scp = _scp_like(text)
        if scp is None:
            return None
        host, path = scp
    host = host.lower()
    segments = _strip_git_suffix(path.strip("/")).split("/")
    if not host or host in _NOT_GITHUB or len(segments) != 2 or not all(_NAME.match(s) for s in segments):
        return None
    return host, "/".join(segments)


def _api_url_for_host(host: str) -> str:
    """The REST root of the GitHub that serves ``host``: api.github.com, else GitHub Enterprise's ``/api/v3``."""
    return DEFAULT_API_URL if host in ("github.com", "www.github.com") else f"https://{host}/api/v3"


def github_for_project(
    repo_root: Path,
    remote: str = "origin",
    *,
    repo: str | None = None,
    api_url: str | None = None,
    token_env: str = "GITHUB_TOKEN",
) -> tuple[GitHubClient, str]:
    """A client and the ``owner/name`` it serves: ``repo``, else the one ``remote`` names, else ``$GITHUB_REPOSITORY``.

    The API is ``api_url``, else ``$GITHUB_API_URL``, else the one of the remote's host (GitHub
    Enterprise included), else api.github.com.
    """
    found = None if repo else _github_remote(remote_url(Path(repo_root), remote) or "")
    name = repo or (found[1] if found else None) or os.environ.get("GITHUB_REPOSITORY", "").strip()
    if not name:
        raise InvalidInput(
            f"cannot tell which GitHub repository this is: remote {remote!r} does not name one",
            hint="set github_repo: owner/name in the workflow's post_success.merge (or $GITHUB_REPOSITORY)",
        )
    _check_repo(name)
    if api_url is None and not os.environ.get("GITHUB_API_URL", "").strip() and found is not None:
        api_url = _api_url_for_host(found[0])
    return GitHubClient.from_env(api_url, token_env), name


class GitHubClient:
    """GitHub's REST API (v2022-11-28) with one token; the x-ratelimit-* of the last answer are kept.

    Without a token requests go out anonymously (public repositories only, 60 an hour). Not retried.
    ``token_source`` (``"$GITHUB_TOKEN"``) and ``token_env`` only word the errors; ``from_env`` sets them.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = 20.0,
        token_source: str | None = None,
        token_env: str = "GITHUB_TOKEN",
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.rate_remaining: int | None = None
        self.rate_reset: float | None = None
        self._token = token
        self._token_source = token_source
        self._token_env = token_env
        self._http: httpx.Client | None = None

    @classmethod
    def from_env(
        cls, api_url: str | None = None, token_env: str = "GITHUB_TOKEN", *, timeout: float = 20.0
    ) -> GitHubClient:
        """A client for ``api_url`` (else ``$GITHUB_API_URL``, else api.github.com) with ``github_token(token_env)``."""
        url = api_url or os.environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        host = urlsplit(url).hostname or ""
        token = github_token(token_env, hostname=None if host == "api.github.com" else host)
        source = f"${token_env}" if os.environ.get(token_env, "").strip() else "`gh auth token`"
        return cls(url, token, timeout=timeout, token_source=source, token_env=token_env)

    def __repr__(self) -> str:
        return f"GitHubClient({self.api_url!r}, token from {self._token_source or 'the caller'})"

    def close(self) -> None:
        """Close the connection pool (the client opens a new one if used again)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- issues ------------------------------------------------------------------------------

    def list_issues(
        self,
        repo: str,
        *,
        labels: Iterable[str] = (),
        assignee: str | None = None,
        state: str = "open",
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every issue matching the filters (all ``labels`` must be on it), pull requests left out."""
        params: dict[str, str] = {"state": state}
        wanted = labels if isinstance(labels, str) else ",".join(labels)
        if wanted:
            params["labels"] = wanted
        if assignee is not None:
            params["assignee"] = assignee
        if since is not None:
            params["since"] = since
        items = self._pages(f"{_repo_path(repo)}/issues", params)
        return [item for item in items if "pull_request" not in item]

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        """One issue (or pull request, seen as an issue) by number."""
        return _object(self._call("GET", f"{_repo_path(repo)}/issues/{int(number)}"))

    def update_issue(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        """PATCH the issue with ``fields`` (``state="closed"``, ``title=…``, ``labels=[…]``); the issue as it is now."""
        return _object(self._call("PATCH", f"{_repo_path(repo)}/issues/{int(number)}", body=fields))

    def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        """Add ``labels`` to the issue; labels it already has stay as they are."""
        self._call("POST", f"{_repo_path(repo)}/issues/{int(number)}/labels", body={"labels": list(labels)})

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Take ``label`` off the issue; a label that is not on it is already done."""
        try:
            self._call("DELETE", f"{_repo_path(repo)}/issues/{int(number)}/labels/{quote(label, safe='')}")
        except GitHubNotFound:
            pass

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Every comment on the issue or pull request, oldest first."""
        return self._pages(f"{_repo_path(repo)}/issues/{int(number)}/comments", {})

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        """Post a comment on the issue or pull request."""
        return _object(self._call("POST", f"{_repo_path(repo)}/issues/{int(number)}/comments", body={"body": body}))

    def edit_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        """Replace the text of a comment."""
        path = f"{_repo_path(repo)}/issues/comments/{int(comment_id)}"
        return _object(self._call("PATCH", path, body={"body": body}))

    # ---- pull requests -----------------------------------------------------------------------

    def find_pulls(
        self, repo: str, head_branch: str, base: str | None = None, state: str = "all"
    ) -> list[dict[str, Any]]:
        """The pull requests from ``head_branch`` of ``repo`` itself (into ``base``, when given)."""
        owner = _check_repo(repo).split("/")[0]
        params = {"head": f"{owner}:{head_branch}", "state": state}
        if base is not None:
            params["base"] = base
        return self._pages(f"{_repo_path(repo)}/pulls", params)

    def create_pull(self, repo: str, *, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """Open a pull request from ``head`` into ``base`` (GitHub answers 422 when one is open already)."""
        fields = {"head": head, "base": base, "title": title, "body": body}
        return _object(self._call("POST", f"{_repo_path(repo)}/pulls", body=fields))

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        """One pull request with ``state``, ``merged``, ``mergeable``, ``head.sha`` and ``html_url``."""
        return _object(self._call("GET", f"{_repo_path(repo)}/pulls/{int(number)}"))

    def list_reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The reviews of the pull request, oldest first (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED)."""
        return self._pages(f"{_repo_path(repo)}/pulls/{int(number)}/reviews", {})

    def list_review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The line comments of the pull request's reviews (``path``, ``line``, ``body``, ``commit_id``)."""
        return self._pages(f"{_repo_path(repo)}/pulls/{int(number)}/comments", {})

    def check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """The latest check run of each check on commit ``sha`` (``status``, ``conclusion``, ``output``)."""
        return self._pages(f"{_repo_path(repo)}/commits/{quote(sha, safe='')}/check-runs", {}, key="check_runs")

    def check_run_annotations(self, repo: str, check_run_id: int) -> list[dict[str, Any]]:
        """The annotations of one check run (``path``, ``start_line``, ``annotation_level``, ``title``, ``message``)."""
        return self._pages(f"{_repo_path(repo)}/check-runs/{int(check_run_id)}/annotations", {})

    def merge_pull(self, repo: str, number: int, *, sha: str, method: str = "merge") -> dict[str, Any]:
        """Merge the pull request if its head is still ``sha``: 409 when the head moved, 405 when not mergeable."""
        body = {"sha": sha, "merge_method": method}
        return _object(self._call("PUT", f"{_repo_path(repo)}/pulls/{int(number)}/merge", body=body))

    def user(self) -> dict[str, Any]:
        """The account the token belongs to (a cheap way to check the credentials)."""
        return _object(self._call("GET", "/user"))

    # ---- the wire ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON of one request (None for an empty answer such as 204)."""
        response = self._request(method, path, body=body)
        return _decode(response, method, path) if response.content else None

    def _pages(self, path: str, params: Mapping[str, str], *, key: str | None = None) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link: rel="next"`` (100 a page)."""
        items: list[dict[str, Any]] = []
        target: str = path
        query: dict[str, str] | None = {**params, "per_page": str(_PER_PAGE)}
        for _ in range(_MAX_PAGES):
            response = self._request("GET", target, params=query)
            data = _decode(response, "GET", path)
            page = data.get(key) if key and isinstance(data, dict) else data
            if not isinstance(page, list):
                raise GitHubError(f"GitHub GET {path} answered {type(page).__name__}, not a list", status=200)
            items.extend(page)
            following = response.links.get("next", {}).get("url")
            if not following:
                return items
            if not _same_origin(following, self.api_url):
                raise GitHubError(f"GitHub GET {path}: the next page is off {self.api_url}; not sending the token there")
            target, query = following, None  # the next link carries the whole query
        raise GitHubError(f"GitHub GET {path}: more than {_MAX_PAGES} pages; stopped reading")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        import httpx

        url = path if path.startswith(("https://", "http://")) else self.api_url + path
        what = f"GitHub {method} {urlsplit(url).path}"
        try:
            response = self._client().request(method, url, params=params, json=body)
        except httpx.TimeoutException as exc:
            raise GitHubUnavailable(f"{what} timed out after {self.timeout:g}s", hint=_LATER) from exc
        except httpx.HTTPError as exc:
            said = self._scrub(f"{type(exc).__name__}: {exc}")
            raise GitHubUnavailable(f"{what} failed: {said}", hint=_LATER) from exc
        except httpx.InvalidURL as exc:
            raise GitHubError(f"{what}: invalid API URL {self.api_url!r}: {exc}") from exc
        self._note_rate(response.headers)
        if response.status_code >= 400:
            raise self._error(response, what)
        return response

    def _client(self) -> httpx.Client:
        import httpx

        if self._http is None:
            from animus import __version__

            headers = {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": _API_VERSION,
                "User-Agent": f"animus/{__version__}",
            }
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            # httpx drops Authorization on a redirect to another host, so following renames is safe
            self._http = httpx.Client(headers=headers, timeout=self.timeout, follow_redirects=True)
        return self._http

    def _note_rate(self, headers: httpx.Headers) -> None:
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is not None and remaining.strip().isdigit():
            self.rate_remaining = int(remaining)
        if reset is not None and reset.strip().isdigit():
            self.rate_reset = float(reset)

    def _error(self, response: httpx.Response, what: str) -> GitHubError:
        status = response.status_code
        said = self._scrub(_said(response))
        headers = response.headers
        spent = headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
        if status == 429 or (status == 403 and spent):
            reset_at = _reset_at(headers)
            when = time.strftime("%H:%M:%S", time.localtime(reset_at))
            return GitHubRateLimited(
                f"{what}: GitHub's rate limit is spent (HTTP {status}: {said}); it resets at {when}",
                status=status, reset_at=reset_at, hint="wait for the reset; animus tries again later by itself",
            )
        details = {"status": status, "response": said}
        token = f"the token from {self._token_source}" if self._token_source else "the token"
        if status == 401:
            rejected = token if self._token else "a request without a token"
            return GitHubAuthError(
                f"GitHub rejected {rejected} (HTTP 401: {said})", status=status, details=details,
                hint=f"set {self._token_env} to a valid GitHub token (or renew the one `gh auth login` keeps)",
            )
        if status == 403:
            return GitHubAuthError(
                f"{what}: GitHub refused {token} (HTTP 403: {said})",
                status=status, details=details,
                hint="give the token access to this repository's contents, issues and pull requests",
            )
        if status in (404, 410):  # 410 Gone: GitHub's answer for an issue that was deleted
            return GitHubNotFound(
                f"{what}: HTTP 404: {said}", status=status, details=details,
                hint="check the repository and number; GitHub also answers 404 when the token cannot see a private repository",
            )
        if status >= 500:
            return GitHubUnavailable(f"{what}: HTTP {status}: {said}", status=status, details=details, hint=_LATER)
        return GitHubError(f"{what}: HTTP {status}: {said}", status=status, details=details)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


_LATER = "GitHub is unreachable or failing right now; animus tries again later"


def _check_repo(repo: str) -> str:
    """``repo`` when it is ``owner/name``, else InvalidInput (it becomes part of every URL path)."""
    owner, _, name = repo.partition("/")
    if not (_NAME.match(owner) and _NAME.match(name)) or {owner, name} & {".", ".."}:
        raise InvalidInput(f"not a GitHub repository name: {repo!r} (expected owner/name)")
    return repo


def _repo_path(repo: str) -> str:
    return f"/repos/{_check_repo(repo)}"


def _same_origin(url: str, base: str) -> bool:
    one, two = urlsplit(url), urlsplit(base)
    return (one.scheme, one.netloc) == (two.scheme, two.netloc)


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise GitHubError(
            f"GitHub {method} {path} answered something that is not JSON: {response.text[:200]!r}",
            status=response.status_code,
        ) from exc


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise GitHubError(f"GitHub answered {type(data).__name__} where an object was expected")
    return data


def _said(response: httpx.Response) -> str:
    """GitHub's own words: ``message`` and the ``errors`` of a 422, else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:200]
    message = str(data.get("message") or response.reason_phrase)
    errors = data.get("errors")
    if isinstance(errors, list):
        extra = [str(e.get("message") or e.get("code")) if isinstance(e, dict) else str(e) for e in errors]
        message = "; ".join([message, *(e for e in extra if e)])
    return message[:500]


def _reset_at(headers: httpx.Headers) -> float:
    """When the limit lifts: ``retry-after`` seconds from now, else ``x-ratelimit-reset``, else a minute."""
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after.isdigit():
        return time.time() + int(retry_after)
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if reset.isdigit():
        return float(reset)
    return time.time() + 60.0

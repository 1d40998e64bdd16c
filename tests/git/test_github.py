"""GitHubClient and the pull requests made with it, over real HTTP against the fake GitHub and real git repos."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import EXIT_NOT_FOUND, EXIT_UNAVAILABLE, GitError, InvalidInput
from animus.git import (
    GitHubAuthError,
    GitHubClient,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    commit_all,
    ensure_pull_request,
    find_pull_request,
    github_for_project,
    github_token,
    prepare_worktree,
    push_branch,
    repo_from_remote,
)
from support.fake_github import FakeGitHub

if TYPE_CHECKING:
    from conftest import Sandbox

TOKEN = "t0ken-do-not-print"
REPO = "acme/repo"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as gh:
        yield gh


@pytest.fixture
def client(fake: FakeGitHub) -> Iterator[GitHubClient]:
    with GitHubClient(fake.url, TOKEN, timeout=5) as gh:
        yield gh


class Origin:
    """A sandbox whose ``origin`` is a real bare repository that the fake GitHub reads branch heads from."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.bare = sandbox.base / "origin.git"
        sandbox.git("init", "-q", "--bare", str(self.bare))
        sandbox.git("remote", "add", "origin", str(self.bare))
        sandbox.git("push", "-q", "origin", "main")

    def work(self, task: str, name: str, text: str = "x\n") -> str:
        """A commit on the task's branch, pushed; its sha."""
        wt = prepare_worktree(self.sandbox.root, task, self.sandbox.worktrees)
        self.sandbox.write(name, text, cwd=wt.path)
        commit_all(wt.path, f"write {name}", f"run-{task}-{name}")
        return push_branch(self.sandbox.root, wt.branch).sha

    def origin_sha(self, ref: str) -> str:
        return self.sandbox.git("rev-parse", ref, cwd=self.bare)


@pytest.fixture
def origin(sandbox: Sandbox) -> Origin:
    return Origin(sandbox)


@pytest.fixture
def git_fake(origin: Origin) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, git_dir=origin.bare) as gh:
        yield gh


# ---- issues, labels, comments --------------------------------------------------------------------


def test_list_issues_follows_the_link_header_across_pages(fake: FakeGitHub, client: GitHubClient) -> None:
    for i in range(230):
        fake.add_issue(REPO, f"issue {i}")
    issues = client.list_issues(REPO)
    assert len(issues) == 230 and len({i["number"] for i in issues}) == 230
    assert fake.count("GET", f"/repos/{REPO}/issues") == 3  # 100 + 100 + 30
    assert [e["query"].get("page") for e in fake.log] == [None, "2", "3"]


def test_list_issues_filters_by_every_label_state_assignee_and_since(fake: FakeGitHub, client: GitHubClient) -> None:
    clock = [1_700_000_000.0]
    fake.now = lambda: clock[0]
    both = fake.add_issue(REPO, "both", labels=["animus", "bug"], assignee="alice")
    fake.add_issue(REPO, "one", labels=["animus"])
    fake.add_issue(REPO, "closed", labels=["animus", "bug"], state="closed")
    assert [i["title"] for i in client.list_issues(REPO, labels=["animus", "bug"])] == ["both"]
    assert [i["title"] for i in client.list_issues(REPO, labels="animus,bug")] == ["both"]  # a str is not 10 labels
    assert {i["title"] for i in client.list_issues(REPO, labels=["animus"], state="all")} == {"both", "one", "closed"}
    assert [i["title"] for i in client.list_issues(REPO, state="closed")] == ["closed"]
    assert [i["title"] for i in client.list_issues(REPO, assignee="alice")] == ["both"]
    clock[0] += 60
    fake.add_comment(REPO, both["number"], "a person comments")  # bumps updated_at
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock[0]))
    assert [i["title"] for i in client.list_issues(REPO, since=since)] == ["both"]


def test_pull_requests_are_left_out_of_list_issues(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_issue(REPO, "an issue", labels=["animus"])
    pull = client.create_pull(REPO, head="animus/t1", base="main", title="a PR", body="")
    client.add_labels(REPO, pull["number"], ["animus"])
    assert [i["title"] for i in client.list_issues(REPO, labels=["animus"])] == ["an issue"]
    assert "pull_request" in client.get_issue(REPO, pull["number"])  # GitHub sees the PR as an issue too


def test_comments_are_created_once_and_edited_in_place(fake: FakeGitHub, client: GitHubClient) -> None:
    issue = fake.add_issue(REPO, "work")
    made = client.create_comment(REPO, issue["number"], "animus started")
    edited = client.edit_comment(REPO, made["id"], "animus finished")
    assert edited["id"] == made["id"] and edited["body"] == "animus finished"
    listed = client.list_comments(REPO, issue["number"])
    assert [(c["id"], c["body"], c["user"]["login"]) for c in listed] == [(made["id"], "animus finished", "animus-bot")]
    assert fake.count("POST", f"/repos/{REPO}/issues/{issue['number']}/comments") == 1
    assert made["html_url"] == f"{fake.url}/{REPO}/issues/{issue['number']}#issuecomment-{made['id']}"


def test_labels_add_and_remove_are_idempotent(fake: FakeGitHub, client: GitHubClient) -> None:
    number = fake.add_issue(REPO, "work", labels=["animus"])["number"]
    client.add_labels(REPO, number, ["animus:running"])
    client.add_labels(REPO, number, ["animus:running"])
    assert [lab["name"] for lab in fake.issue(REPO, number)["labels"]] == ["animus", "animus:running"]
    client.remove_label(REPO, number, "animus:running")
    client.remove_label(REPO, number, "animus:running")  # GitHub answers 404: already done
    client.remove_label(REPO, number, "never there")
    assert [lab["name"] for lab in fake.issue(REPO, number)["labels"]] == ["animus"]
    closed = client.update_issue(REPO, number, state="closed")
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")


def test_a_missing_issue_is_not_found(client: GitHubClient) -> None:
    with pytest.raises(GitHubNotFound) as err:
        client.get_issue(REPO, 404)
    assert err.value.status == 404 and err.value.exit_code == EXIT_NOT_FOUND


def test_a_repository_that_is_not_owner_slash_name_is_refused_before_any_request(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    for bad in ("acme", "acme/repo/extra", "../x", "acme/.."):
        with pytest.raises(InvalidInput):
            client.list_issues(bad)
    assert fake.requests == []


# ---- errors ------------------------------------------------------------------------------------------


def test_a_rejected_token_is_an_auth_error_that_never_shows_the_token(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-secret-value")
    with GitHubClient.from_env(fake.url) as gh, pytest.raises(GitHubAuthError) as err:
        gh.user()
    error = err.value
    assert error.status == 401 and error.exit_code == EXIT_UNAVAILABLE and isinstance(error, GitError)
    assert error.message == "GitHub rejected the token from $GITHUB_TOKEN (HTTP 401: Bad credentials)"
    assert error.hint and "GITHUB_TOKEN" in error.hint
    assert "wrong-secret-value" not in f"{error} {error.hint} {error.details} {error.to_dict()} {gh!r}"
    with GitHubClient(fake.url, "another-secret") as given, pytest.raises(GitHubAuthError) as err:
        given.user()
    assert err.value.message == "GitHub rejected the token (HTTP 401: Bad credentials)"
    assert "another-secret" not in f"{err.value.to_dict()} {given!r}"


def test_a_forbidden_request_is_an_auth_error_but_a_spent_limit_is_not(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.fail_next(1, 403)
    with pytest.raises(GitHubAuthError) as err:
        client.list_issues(REPO)
    assert err.value.status == 403 and not isinstance(err.value, GitHubRateLimited)


def test_a_403_with_no_requests_remaining_is_rate_limited_until_the_reset(fake: FakeGitHub, client: GitHubClient) -> None:
    clock = [1_700_000_000.0]
    fake.now = lambda: clock[0]
    fake.rate_limit(120)
    with pytest.raises(GitHubRateLimited) as err:
        client.list_issues(REPO)
    assert err.value.status == 403 and err.value.reset_at == int(clock[0] + 120)
    assert (client.rate_remaining, client.rate_reset) == (0, int(clock[0] + 120))
    clock[0] += 121
    assert client.list_issues(REPO) == []
    assert client.rate_remaining == 4999


def test_a_429_is_rate_limited_until_retry_after(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.rate_limit(30, status=429)
    before = time.time()
    with pytest.raises(GitHubRateLimited) as err:
        client.user()
    assert err.value.status == 429 and before + 29 <= err.value.reset_at <= time.time() + 31
    fake.fail_next(1, 429, retry_after=7)  # a secondary limit carries only retry-after
    fake.rate_limit(0)
    before = time.time()
    with pytest.raises(GitHubRateLimited) as err:
        client.user()
    assert before + 7 <= err.value.reset_at <= time.time() + 7


def test_server_errors_are_unavailable_and_never_retried(fake: FakeGitHub, client: GitHubClient) -> None:
    said = {}
    for status in (500, 502, 503):
        fake.fail_next(1, status)
        with pytest.raises(GitHubUnavailable) as err:
            client.list_issues(REPO)
        assert err.value.status == status and err.value.exit_code == EXIT_UNAVAILABLE
        said[status] = err.value.message
    assert "HTTP 502: <html><body><h1>502 Bad Gateway" in said[502]  # not JSON, still reported
    assert fake.count("GET", f"/repos/{REPO}/issues") == 3  # one request per call: the caller owns backoff
    assert client.list_issues(REPO) == []


def test_a_host_that_refuses_or_never_answers_is_unavailable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection into the backlog, never answers
        port = silent.getsockname()[1]
        with GitHubClient(f"http://127.0.0.1:{port}", TOKEN, timeout=0.3) as gh, pytest.raises(GitHubUnavailable) as err:
            gh.user()
        assert err.value.status is None and "timed out" in err.value.message
    with GitHubClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2) as gh, pytest.raises(GitHubUnavailable) as err:
        gh.user()  # the port is closed now
    assert err.value.status is None and TOKEN not in str(err.value)


def test_every_request_carries_the_api_headers(fake: FakeGitHub, client: GitHubClient) -> None:
    seen: list[dict[str, str]] = []
    answer = fake._answer

    def spy(method: str, target: str, headers: dict[str, str], raw: bytes) -> object:
        seen.append({k.lower(): v for k, v in headers.items()})
        return answer(method, target, headers, raw)

    fake._answer = spy  # type: ignore[method-assign]
    assert client.user()["login"] == "animus-bot"
    headers = seen[0]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"].startswith("animus/")
    assert client.rate_remaining == 4999 and client.rate_reset and client.rate_reset > time.time()


# ---- pull requests, reviews, checks --------------------------------------------------------------------


def test_ensure_pull_request_creates_once_and_reuses(origin: Origin, git_fake: FakeGitHub) -> None:
    sha = origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        first = ensure_pull_request(gh, REPO, "animus/t1", "main", "[T1] Title", "Body\nwith lines")
        again = ensure_pull_request(gh, REPO, "animus/t1", "main", "[T1] Title", "Body\nwith lines")
    assert (first.number, first.created, first.state, first.head_sha) == (1, True, "OPEN", sha)
    assert first.url == f"{git_fake.url}/{REPO}/pull/1"
    assert (again.number, again.url, again.created) == (1, first.url, False)
    assert git_fake.count("POST", f"/repos/{REPO}/pulls") == 1
    [pull] = git_fake.pulls(REPO)
    assert (pull["title"], pull["body"], pull["head"]["ref"], pull["base"]["ref"]) == (
        "[T1] Title", "Body\nwith lines", "animus/t1", "main")


def test_closed_pull_request_is_not_reused_but_merged_one_is(origin: Origin, git_fake: FakeGitHub) -> None:
    origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        first = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        git_fake.close_pull(REPO, first.number)
        reopened = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        assert (reopened.number, reopened.created) == (2, True)
        git_fake.merge_by_person(REPO, reopened.number)
        merged = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
    assert (merged.number, merged.created, merged.state) == (2, False, "MERGED")
    assert origin.origin_sha("main^2") == origin.origin_sha("animus/t1")  # a real merge commit on origin


def test_a_pull_request_created_whose_answer_was_lost_is_found_not_made_twice(
    origin: Origin, git_fake: FakeGitHub
) -> None:
    origin.work("T1", "a.txt")
    git_fake.fail_next(1, 502, path_contains="/pulls", method="POST", after=True)
    with GitHubClient(git_fake.url, TOKEN) as gh:
        pr = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
    assert (pr.number, pr.created, pr.state) == (1, False, "OPEN")
    assert len(git_fake.pulls(REPO)) == 1 and git_fake.count("POST", f"/repos/{REPO}/pulls") == 1


def test_a_create_that_fails_with_nothing_made_raises_the_create_error(origin: Origin, git_fake: FakeGitHub) -> None:
    origin.work("T1", "a.txt")
    git_fake.fail_next(1, 503, path_contains="/pulls", method="POST")
    with GitHubClient(git_fake.url, TOKEN) as gh, pytest.raises(GitHubUnavailable) as err:
        ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
    assert err.value.status == 503 and git_fake.pulls(REPO) == []


def test_a_second_open_pull_request_for_one_branch_is_a_422(origin: Origin, git_fake: FakeGitHub) -> None:
    origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        gh.create_pull(REPO, head="animus/t1", base="main", title="t", body="b")
        with pytest.raises(GitHubError) as err:
            gh.create_pull(REPO, head="animus/t1", base="main", title="t", body="b")
    assert err.value.status == 422 and "A pull request already exists for acme:animus/t1." in err.value.message


def test_the_head_sha_follows_pushes_to_the_origin(origin: Origin, git_fake: FakeGitHub) -> None:
    first = origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        pr = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        assert pr.head_sha == first
        second = origin.work("T1", "b.txt")
        found = find_pull_request(gh, REPO, "animus/t1", "main")
        assert found is not None and found.head_sha == second != first
        assert gh.get_pull(REPO, pr.number)["head"]["sha"] == second
        assert find_pull_request(gh, REPO, "animus/t1", "release") is None
        assert find_pull_request(gh, REPO, "animus/other", "main") is None


def test_a_merge_with_a_stale_sha_is_409_and_with_the_head_it_merges(origin: Origin, git_fake: FakeGitHub) -> None:
    stale = origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        pr = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        head = origin.work("T1", "b.txt")
        with pytest.raises(GitHubError) as err:
            gh.merge_pull(REPO, pr.number, sha=stale)
        assert err.value.status == 409 and "Head branch was modified" in err.value.message
        assert gh.get_pull(REPO, pr.number)["merged"] is False
        done = gh.merge_pull(REPO, pr.number, sha=head, method="squash")
        assert done["merged"] is True and done["sha"] == origin.origin_sha("main")
        pull = gh.get_pull(REPO, pr.number)
        assert (pull["state"], pull["merged"], pull["merge_commit_sha"]) == ("closed", True, done["sha"])
        assert origin.origin_sha("main^") == origin.sandbox.sha("main")  # squashed: one parent
        with pytest.raises(GitHubError) as err:
            gh.merge_pull(REPO, pr.number, sha=head)
        assert err.value.status == 405


def test_reviews_review_comments_and_check_runs_have_githubs_shapes(origin: Origin, git_fake: FakeGitHub) -> None:
    sha = origin.work("T1", "a.txt")
    with GitHubClient(git_fake.url, TOKEN) as gh:
        pr = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        git_fake.add_review(REPO, pr.number, "CHANGES_REQUESTED", "please fix the parser")
        git_fake.add_review_comment(REPO, pr.number, "a.txt", 1, "off by one")
        git_fake.add_check_run(REPO, sha, "tests", conclusion="failure", summary="2 failed", text="test_x failed")
        git_fake.add_check_run(REPO, sha, "lint", status="in_progress")
        git_fake.add_check_run(REPO, sha, "tests", conclusion="success", summary="all passed")  # a re-run
        [review] = gh.list_reviews(REPO, pr.number)
        [comment] = gh.list_review_comments(REPO, pr.number)
        runs = {run["name"]: run for run in gh.check_runs(REPO, sha)}
    assert (review["state"], review["commit_id"], review["body"], review["user"]["login"]) == (
        "CHANGES_REQUESTED", sha, "please fix the parser", "reviewer")
    assert {"id", "submitted_at"} <= set(review)
    assert (comment["path"], comment["line"], comment["body"], comment["commit_id"]) == ("a.txt", 1, "off by one", sha)
    assert {"id", "created_at", "user"} <= set(comment)
    assert set(runs) == {"tests", "lint"}  # only the newest run of each check
    assert (runs["tests"]["status"], runs["tests"]["conclusion"], runs["tests"]["output"]["summary"]) == (
        "completed", "success", "all passed")
    assert (runs["lint"]["status"], runs["lint"]["conclusion"]) == ("in_progress", None)
    assert {"title", "summary", "text"} <= set(runs["lint"]["output"]) and runs["lint"]["html_url"] and runs["lint"]["id"]


def test_ci_and_people_act_over_http_through_githubs_write_endpoints(origin: Origin, git_fake: FakeGitHub) -> None:
    import httpx

    sha = origin.work("T1", "a.txt")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with GitHubClient(git_fake.url, TOKEN) as gh, httpx.Client(base_url=f"{git_fake.url}/repos/{REPO}", headers=auth) as http:
        pr = ensure_pull_request(gh, REPO, "animus/t1", "main", "t", "b")
        made = http.post("/check-runs", json={"name": "ci", "head_sha": sha, "status": "completed", "conclusion": "failure",
                                              "output": {"title": "1 failed", "summary": "test_x", "text": "log"}})
        assert made.status_code == 201, made.text
        assert http.post("/check-runs", json={"name": "ci", "head_sha": "0" * 39}).status_code == 422
        review = http.post(f"/pulls/{pr.number}/reviews", json={
            "event": "REQUEST_CHANGES", "body": "fix it", "comments": [{"path": "a.txt", "line": 1, "body": "off by one"}]})
        assert review.status_code == 200, review.text
        assert http.post(f"/pulls/{pr.number}/reviews", json={"event": "COMMENT"}).status_code == 422  # a body is required
        line = http.post(f"/pulls/{pr.number}/comments", json={"body": "and here", "path": "a.txt", "line": 2, "commit_id": sha})
        assert line.status_code == 201, line.text
        (run,) = gh.check_runs(REPO, sha)
        reviews = gh.list_reviews(REPO, pr.number)
        comments = gh.list_review_comments(REPO, pr.number)
    assert (run["name"], run["conclusion"], run["output"]["title"], run["output"]["summary"]) == ("ci", "failure", "1 failed", "test_x")
    assert [(r["state"], r["body"], r["commit_id"]) for r in reviews] == [("CHANGES_REQUESTED", "fix it", sha)]
    assert [(c["path"], c["line"], c["body"]) for c in comments] == [("a.txt", 1, "off by one"), ("a.txt", 2, "and here")]


# ---- tokens and repositories -----------------------------------------------------------------------------


def _fake_gh(bin_dir: Path, said: Path, token: str | None) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "gh"
    answer = f"print({token!r})" if token else "sys.exit('not logged in to any GitHub hosts')"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(said)!r}, 'w').write(json.dumps([sys.argv[1:], os.environ.get('GH_PROMPT_DISABLED')]))\n"
        f"if sys.argv[1:3] != ['auth', 'token']:\n    sys.exit('unexpected')\n{answer}\n"
    )
    script.chmod(0o755)


def test_github_token_comes_from_the_env_var_then_from_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said = tmp_path / "gh-said.json"
    _fake_gh(tmp_path / "bin", said, "gho_from_gh")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANIMUS_TEST_TOKEN", "from-env")
    assert github_token("ANIMUS_TEST_TOKEN") == "from-env"
    assert not said.exists()  # gh is only asked when the variable is empty
    monkeypatch.setenv("ANIMUS_TEST_TOKEN", "  ")
    assert github_token("ANIMUS_TEST_TOKEN") == "gho_from_gh"
    assert said.read_text() == '[["auth", "token"], "1"]'
    assert github_token("ANIMUS_TEST_TOKEN", hostname="ghe.example.com") == "gho_from_gh"
    assert said.read_text() == '[["auth", "token", "--hostname", "ghe.example.com"], "1"]'


def test_no_token_anywhere_is_an_auth_error_naming_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANIMUS_TEST_TOKEN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitHubAuthError, match=r"\$ANIMUS_TEST_TOKEN is not set and the GitHub CLI") as err:
        github_token("ANIMUS_TEST_TOKEN")
    assert err.value.hint and "ANIMUS_TEST_TOKEN" in err.value.hint
    _fake_gh(tmp_path / "bin", tmp_path / "said.json", None)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(GitHubAuthError, match="`gh auth token` printed none"):
        github_token("ANIMUS_TEST_TOKEN")


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("git@github.com:Acme/Repo.git", "Acme/Repo"),
        ("https://github.com/acme/repo", "acme/repo"),
        ("https://x-access-token:secret@github.com/acme/repo.git/", "acme/repo"),
        ("https://x@github.com/o/r", "o/r"),
        ("ssh://git@github.com/acme/repo.git", "acme/repo"),
        ("ssh://git@github.com:22/acme/repo", "acme/repo"),
        ("ssh://git@ghe.example.com/team/proj.git", "team/proj"),
        ("git@ghe.example.com:team/proj.git", "team/proj"),
        ("https://ghe.example.com/team/proj", "team/proj"),
        ("/srv/git/acme/repo.git", None),
        ("./acme/repo", None),
        ("file:///srv/git/acme/repo.git", None),
        ("https://gitlab.com/group/proj.git", None),
        ("https://ghe.example.com/a/b/c", None),
        ("https://github.com", None),
        ("", None),
    ],
)
def test_repo_from_remote(url: str, repo: str | None) -> None:
    assert repo_from_remote(url) == repo


def test_github_for_project_reads_the_repository_and_the_api_from_the_remote(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    sandbox.git("remote", "add", "origin", "git@github.com:Acme/Repo.git")
    sandbox.git("remote", "add", "ghe", "https://ghe.example.com/team/proj.git")
    client, repo = github_for_project(sandbox.root)
    assert (client.api_url, repo) == ("https://api.github.com", "Acme/Repo")
    client, repo = github_for_project(sandbox.root, "ghe")
    assert (client.api_url, repo) == ("https://ghe.example.com/api/v3", "team/proj")
    client, repo = github_for_project(sandbox.root, "ghe", repo="o/r", api_url="http://127.0.0.1:1")
    assert (client.api_url, repo) == ("http://127.0.0.1:1", "o/r")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:2")
    assert github_for_project(sandbox.root)[0].api_url == "http://127.0.0.1:2"


def test_github_for_project_without_a_github_remote_needs_the_repository_named(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    sandbox.git("remote", "add", "origin", str(sandbox.base / "origin.git"))
    with pytest.raises(InvalidInput, match="remote 'origin' does not name one") as err:
        github_for_project(sandbox.root)
    assert err.value.hint and "github_repo" in err.value.hint
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/from-env")
    assert github_for_project(sandbox.root)[1] == "acme/from-env"

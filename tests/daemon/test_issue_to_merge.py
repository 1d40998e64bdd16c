"""The whole story through the daemon: a labelled GitHub issue becomes a task, the run opens a PR, a CI
failure on it is reworked onto the same PR, approval and green merge it, and the issue hears each step
in one comment and is closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import cleanup, start
from support.fake_github import FakeGitHub
from support.pr import TOKEN, agent_prompts, pr_project, wait_until
from support.repo import git

REPO = "acme/repo"


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    origin = tmp_path / "origin.git"
    with FakeGitHub(token=TOKEN, git_dir=origin) as server:
        yield server


def _run(project: Any) -> Any:
    store = project.store()
    try:
        runs = store.list_runs(task_id="TASK-2")
        return runs[0] if runs else None
    finally:
        store.close()


def _waiting_head(project: Any, origin: Path, not_this: str | None = None) -> str | None:
    run = _run(project)
    if run is None or run.status.value != "waiting_pr":
        return None
    sha = git(origin, "rev-parse", "refs/heads/animus/task-2").strip()
    return sha if sha != not_this else None


def test_an_issue_becomes_a_task_a_pr_a_reworked_ci_failure_and_a_merge(tmp_path: Path, github: FakeGitHub) -> None:
    more = (f"github: {{repo: {REPO}, api_url: \"{github.url}\"}}\n"
            "sources:\n  - {id: gh, type: github, labels: [animus], poll_secs: 1, close_on_land: true}\n"
            "daemon: {pool_size: 2, interval_secs: 0.2}\n")
    project, origin = pr_project(tmp_path, "{poll_secs: 1, auto_merge: true, max_reworks: 2}", more=more)
    try:
        issue = github.add_issue(REPO, "Greet the user", "Say hello on start.", labels=["animus"])
        start(project)
        first = wait_until(lambda: _waiting_head(project, origin), "the issue's run to wait on its PR")
        comment = wait_until(lambda: _says(github, issue["number"], "waiting on its pull request"), "the issue to hear of the PR")
        assert f"{github.url}/{REPO}/pull/" in comment
        github.add_check_run(REPO, first, "unit-tests", conclusion="failure", summary="1 test failed",
                             text="FAILED tests/test_greet.py::test_hello")
        second = wait_until(lambda: _waiting_head(project, origin, not_this=first), "the rework pushed to the same PR")
        github.add_check_run(REPO, second, "unit-tests", conclusion="success")
        (pull,) = github.pulls(REPO)
        github.add_review(REPO, pull["number"], "APPROVED", "ship it", commit_id=second)
        wait_until(lambda: github.issue(REPO, issue["number"])["state"] == "closed", "the merge and the issue closed")
        (pull,) = github.pulls(REPO)
        assert pull["merged_at"] and pull["head"]["sha"] == second
        assert github.count("POST", f"/repos/{REPO}/pulls") == 1
        run = _run(project)
        assert run.status.value == "completed" and run.task_id == "TASK-2"
        assert any("unit-tests" in p and "test_greet.py::test_hello" in p for p in agent_prompts(project))
        assert "landed" in _status_comment(github, issue["number"])
        assert github.count("POST", f"/repos/{REPO}/issues/{issue['number']}/comments") == 1
        labels = {lb["name"] for lb in github.issue(REPO, issue["number"])["labels"]}
        assert "animus:done" in labels and "animus:running" not in labels
    finally:
        cleanup(project)


def _status_comment(github: FakeGitHub, number: int) -> str:
    (comment,) = [c for c in github.comments(REPO, number) if "<!-- animus:run:" in c["body"]]
    return str(comment["body"])


def _says(github: FakeGitHub, number: int, words: str) -> str | None:
    found = [c["body"] for c in github.comments(REPO, number) if "<!-- animus:run:" in c["body"]]
    return str(found[0]) if found and words in found[0] else None

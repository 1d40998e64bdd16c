"""GitHub issues through the daemon: an issue becomes a task, a run, a landing; its status comment is
edited in place and never doubled, also when the daemon is killed at every outbox step or mid-sync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.daemon import start, wait_for
from support.engine import Project
from support.fake_github import FakeGitHub

REPO = "acme/app"
TOKEN = "t0ken-for-daemon-tests"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with FakeGitHub(token=TOKEN) as server:
        yield server


def _project(project_factory: Callable[..., Project], fake: FakeGitHub) -> Project:
    extra = (f"github: {{repo: {REPO}, api_url: \"{fake.url}\"}}\n"
             "sources:\n  - {id: gh, type: github, labels: [animus], poll_secs: 1, close_on_land: true}\n")
    return project_factory(extra=extra)


def _links(project: Project) -> dict[str, str]:
    store = project.store()
    try:
        return {link.external_id: link.task_id for link in store.source_items("gh")}
    finally:
        store.close()


def _task_status(project: Project, task_id: str) -> str:
    store = project.store()
    try:
        return store.get_task(task_id).status.value
    finally:
        store.close()


def _status_delivered(project: Project) -> bool:
    store = project.store()
    try:
        pending = store.pending_outbox_by_notifier("source:")
        return not pending and bool(store.outbox_summary()["delivered"])
    finally:
        store.close()


def _run_comments(fake: FakeGitHub, number: int) -> list[dict[str, Any]]:
    return [c for c in fake.comments(REPO, number) if "<!-- animus:run:" in c["body"]]


def _landed_and_told(project: Project, fake: FakeGitHub, number: int) -> bool:
    links = _links(project)
    task = links.get(str(number))
    return bool(task and _task_status(project, task) == "done" and _status_delivered(project)
                and fake.issue(REPO, number)["state"] == "closed")


def test_a_labelled_issue_becomes_a_task_a_run_and_a_landing_with_one_status_comment(
        project_factory: Callable[..., Project], fake: FakeGitHub) -> None:
    project = _project(project_factory, fake)
    issue = fake.add_issue(REPO, "Add a changelog", "Keep a CHANGELOG.md.", labels=["animus"])
    fake.add_issue(REPO, "Unrelated", labels=["question"])
    start(project)
    wait_for(lambda: _landed_and_told(project, fake, issue["number"]), 90, "the issue's task to land and be told")
    comments = _run_comments(fake, issue["number"])
    assert len(comments) == 1, comments  # one comment per run, edited as the run went on
    assert fake.count("POST", f"/repos/{REPO}/issues/{issue['number']}/comments") == 1
    assert fake.count("PATCH", f"/repos/{REPO}/issues/comments/") >= 1
    assert "landed" in comments[0]["body"]
    labels = {lb["name"] for lb in fake.issue(REPO, issue["number"])["labels"]}
    assert "animus:done" in labels and "animus:running" not in labels
    assert len(_links(project)) == 1


@pytest.mark.parametrize("fault", ["animus.sources.report:after", "animus.sources.github.labels:before",
                                   "animus.sources.report:before"])
def test_a_kill_at_any_outbox_step_never_doubles_the_status_comment(
        project_factory: Callable[..., Project], fake: FakeGitHub, fault: str) -> None:
    project = _project(project_factory, fake)
    issue = fake.add_issue(REPO, "Write the docs", labels=["animus"])
    first = project.animus("daemon", "start", "--json", env={"ANIMUS_FAULT": fault}, timeout=90)
    assert first.code == 0, first.stderr
    pid = first.json()["pid"]
    wait_for(lambda: not _alive(pid), 90, f"the daemon to die at {fault}")
    start(project)
    wait_for(lambda: _landed_and_told(project, fake, issue["number"]), 90, "the run to land and the issue to be told")
    assert len(_run_comments(fake, issue["number"])) == 1
    assert fake.count("POST", f"/repos/{REPO}/issues/{issue['number']}/comments") == 1


@pytest.mark.parametrize("fault", ["animus.sources.import:after:3", "animus.sources.cursor:before"])
def test_a_kill_during_a_sync_imports_every_issue_exactly_once(
        project_factory: Callable[..., Project], fake: FakeGitHub, fault: str) -> None:
    project = _project(project_factory, fake)
    numbers = {str(fake.add_issue(REPO, f"issue {n}", labels=["animus"])["number"]) for n in range(6)}
    (project.repo / ".animus" / "workflows.yaml").write_text(
        (project.repo / ".animus" / "workflows.yaml").read_text().replace("poll_secs: 1,", "poll_secs: 1, enqueue: false,"))  # imports only: nothing runs
    first = project.animus("daemon", "start", "--json", env={"ANIMUS_FAULT": fault}, timeout=90)
    assert first.code == 0, first.stderr
    pid = first.json()["pid"]
    wait_for(lambda: not _alive(pid), 60, f"the daemon to die at {fault}")
    assert 0 < len(_links(project)) <= 6
    start(project)
    wait_for(lambda: set(_links(project)) == numbers and _cursor(project), 60, "every issue linked and the cursor saved")
    store = project.store()
    try:
        titles = [t.title for t in store.list_tasks() if t.title.startswith("issue ")]
    finally:
        store.close()
    assert sorted(titles) == sorted(f"issue {n}" for n in range(6))  # six tasks, none twice


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _cursor(project: Project) -> str | None:
    store = project.store()
    try:
        return store.source_state("gh").cursor
    finally:
        store.close()

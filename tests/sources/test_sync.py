"""The source sync against the fake GitHub REST server: each issue becomes one task, edits and closures
follow a task that has not started, faults back off without losing the cursor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from animus.config import load_config
from animus.config.project import resolve_project
from animus.domain.tasks import TaskStatus
from animus.sources import SourceContext, adapter_for, sync_source
from support.api import build
from support.daemon import source_links
from support.engine import Project, make_project
from support.fake_github import FakeGitHub

REPO = "acme/app"
TOKEN = "t0ken-for-tests"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        yield server


def _sources_yaml(url: str, **extra: Any) -> str:
    more = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return (f"github: {{repo: {REPO}, api_url: \"{url}\"}}\n"
            "sources:\n  - id: gh\n    type: github\n    labels: [animus]\n    priority_map: {urgent: critical}\n" + more)


@pytest.fixture
def project(tmp_path: Path, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return make_project(tmp_path, more=_sources_yaml(fake.url))


def _sync(project: Project, **kw: Any) -> Any:
    config = load_config(resolve_project(project.repo))
    store = project.store()
    try:
        ctx = SourceContext(project.repo, project.state_dir, project.state_dir / "worktrees")
        return sync_source(store, config, config.source("gh"), adapter_for(config.source("gh"), config, ctx), **kw)
    finally:
        store.close()


def _links(project: Project) -> dict[str, str]:
    return source_links(project, "gh")


def _task(project: Project, task_id: str) -> Any:
    store = project.store()
    try:
        return store.get_task(task_id)
    finally:
        store.close()


def test_labelled_issues_become_one_task_each_and_a_second_sync_imports_nothing(project: Project, fake: FakeGitHub) -> None:
    one = fake.add_issue(REPO, "Fix the login redirect", "It loops.", labels=["animus", "urgent"])
    two = fake.add_issue(REPO, "Add a health endpoint", labels=["animus", "good first issue"])
    fake.add_issue(REPO, "Not for animus", labels=["question"])
    first = _sync(project)
    assert first.ok, first.error
    assert len(first.imported) == 2
    links = _links(project)
    assert set(links) == {str(one["number"]), str(two["number"])}
    task = _task(project, links[str(one["number"])])
    assert task.title == "Fix the login redirect"
    assert task.description.startswith(one["html_url"]) and "It loops." in task.description
    assert task.priority.value == "critical" and task.status == TaskStatus.READY
    assert "good-first-issue" in _task(project, links[str(two["number"])]).labels  # made a valid label
    again = _sync(project)
    assert again.ok and again.imported == [] and _links(project) == links
    got = project.animus("task", "get", links[str(one["number"])], "--json")
    assert got.code == 0, got.stderr
    assert got.json()["external"]["url"] == one["html_url"] and got.json()["external"]["key"] == f"#{one['number']}"
    queued = project.animus("queue", "list", "--json")
    assert {e["task_id"] for e in queued.json()} >= set(links.values())
    api = build(project)
    shown = api.get(f"/api/v1/tasks/{links[str(one['number'])]}").json()
    assert shown["external"]["source"] == "gh" and shown["external"]["url"] == one["html_url"]
    (row,) = api.get("/api/v1/daemon").json()["sources"]
    assert row["id"] == "gh" and row["linked"] == 2 and row["imported"] == 2 and row["last_error"] is None


def test_upstream_edits_follow_a_task_that_has_not_started_and_a_closed_issue_cancels_it(project: Project, fake: FakeGitHub) -> None:
    issue = fake.add_issue(REPO, "Old title", "old body", labels=["animus"])
    kept = fake.add_issue(REPO, "Started already", labels=["animus"])
    assert _sync(project).ok
    links = _links(project)
    started = links[str(kept["number"])]
    store = project.store()
    try:
        store.create_run(started, "main")  # a run owns it now: upstream edits no longer touch it
    finally:
        store.close()
    fake.edit_issue(REPO, issue["number"], title="New title", body="new body", labels=["animus", "docs", "urgent"])
    fake.edit_issue(REPO, kept["number"], title="Renamed upstream")
    report = _sync(project)
    assert report.updated == [links[str(issue["number"])]]
    edited = _task(project, links[str(issue["number"])])
    assert edited.title == "New title" and edited.description.endswith("new body")
    assert set(edited.labels) == {"docs", "urgent"} and edited.priority.value == "critical"  # via priority_map
    fake.edit_issue(REPO, issue["number"], labels=["animus", "urgent"])
    assert _sync(project).updated == [edited.id] and _task(project, edited.id).labels == ("urgent",)
    assert _task(project, started).title == "Started already"
    fake.close_issue(REPO, issue["number"])
    fake.close_issue(REPO, kept["number"])
    report = _sync(project)
    assert report.cancelled == [links[str(issue["number"])]]
    assert _task(project, links[str(issue["number"])]).status == TaskStatus.CANCELLED
    assert _task(project, started).status != TaskStatus.CANCELLED
    queued = {e["task_id"] for e in project.animus("queue", "list", "--json").json()}
    assert links[str(issue["number"])] not in queued


def test_an_issue_closed_after_it_left_the_listing_is_noticed_by_a_full_listing(project: Project, fake: FakeGitHub) -> None:
    issue = fake.add_issue(REPO, "Will vanish", labels=["animus"])
    assert _sync(project).ok
    fake.edit_issue(REPO, issue["number"], labels=[])  # no longer listed; a full listing asks for it by number
    fake.close_issue(REPO, issue["number"], reason="not_planned")
    report = _sync(project, full=True)
    assert report.cancelled == [_links(project)[str(issue["number"])]]


def test_a_deleted_issue_cancels_its_task_that_has_not_started(project: Project, fake: FakeGitHub) -> None:
    gone = fake.add_issue(REPO, "Will be deleted", labels=["animus"])
    kept = fake.add_issue(REPO, "Stays", labels=["animus"])
    assert _sync(project).ok
    links = _links(project)
    fake.delete_issue(REPO, gone["number"])  # GitHub answers 410 Gone for it from now on
    assert _sync(project).cancelled == []  # an incremental listing cannot see a deletion
    report = _sync(project, full=True)  # the full listing misses it and asks for it by number
    assert report.ok and report.cancelled == [links[str(gone["number"])]]
    assert _task(project, links[str(gone["number"])]).status == TaskStatus.CANCELLED
    assert _task(project, links[str(kept["number"])]).status != TaskStatus.CANCELLED


def test_two_syncs_racing_import_each_issue_exactly_once(project: Project, fake: FakeGitHub) -> None:
    numbers = {str(fake.add_issue(REPO, f"issue {n}", labels=["animus"])["number"]) for n in range(25)}
    reports: list[Any] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        reports.append(_sync(project))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r.ok for r in reports), [r.error for r in reports]
    assert sum(len(r.imported) for r in reports) == 25
    links = _links(project)
    assert set(links) == numbers and len(set(links.values())) == 25
    titles = [t.title for t in _all_tasks(project) if t.title.startswith("issue ")]
    assert sorted(titles) == sorted(f"issue {n}" for n in range(25))


def _all_tasks(project: Project) -> list[Any]:
    store = project.store()
    try:
        return store.list_tasks()
    finally:
        store.close()


def test_a_bad_token_is_a_clear_error_and_nothing_is_half_imported(project: Project, fake: FakeGitHub,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add_issue(REPO, "Never imported", labels=["animus"])
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    before = len(_all_tasks(project))
    report = _sync(project)
    assert not report.ok and "401" in (report.error or "") and "wrong" not in (report.error or "")
    assert len(_all_tasks(project)) == before and _links(project) == {}
    check = project.animus("source", "check", "gh")
    assert check.code == 5 and "gh" in check.stdout + check.stderr and "401" in check.stdout + check.stderr
    listed = project.animus("--json", "source", "list")
    assert listed.code == 0, listed.stderr
    (row,) = listed.json()
    assert "401" in row["last_error"] and row["errors_in_a_row"] == 1 and row["cursor"] is None
    status = project.animus("status")
    assert "source gh:" in status.stdout and "401" in status.stdout
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    good = project.animus("--json", "source", "check", "gh")
    assert good.code == 0, good.stderr
    assert good.json()[0]["ok"] and good.json()[0]["matching"] == 1 and good.json()[0]["identity"]
    assert _links(project) == {}  # check imports nothing


def test_server_errors_and_rate_limits_back_off_without_losing_the_cursor(project: Project, fake: FakeGitHub) -> None:
    fake.add_issue(REPO, "First", labels=["animus"])
    assert _sync(project).ok
    store = project.store()
    try:
        cursor = store.source_state("gh").cursor
    finally:
        store.close()
    assert cursor
    now = datetime.now(UTC)
    fake.fail_next(2, status=502)
    one = _sync(project, now=now)
    two = _sync(project, now=now)
    assert not one.ok and not two.ok and "502" in (one.error or "")
    store = project.store()
    try:
        state = store.source_state("gh")
    finally:
        store.close()
    assert state.cursor == cursor and state.errors_in_a_row == 2
    assert state.next_poll_at == (now + timedelta(seconds=120)).isoformat(timespec="seconds")  # 60 s poll, doubled
    fake.rate_limit(900)
    limited = _sync(project, now=now)
    assert not limited.ok
    assert limited.next_poll_at is not None and limited.next_poll_at >= (now + timedelta(seconds=800)).isoformat(timespec="seconds")
    fake.rate_limit(0)
    fake.add_issue(REPO, "Second", labels=["animus"])
    back = _sync(project)
    assert back.ok and len(back.imported) == 1
    store = project.store()
    try:
        assert store.source_state("gh").errors_in_a_row == 0
    finally:
        store.close()


def test_source_sync_from_the_cli_imports_once_reports_in_json_and_fails_with_exit_5(project: Project, fake: FakeGitHub) -> None:
    one = fake.add_issue(REPO, "One", labels=["animus"])
    fake.add_issue(REPO, "Two", labels=["animus", "urgent"])
    first = project.animus("--json", "source", "sync", "gh")
    assert first.code == 0, first.stderr
    (report,) = first.json()
    assert report["source"] == "gh" and report["ok"] and report["listed"] == 2 and len(report["imported"]) == 2
    again = project.animus("--json", "source", "sync")  # every enabled source; nothing new
    assert again.code == 0 and again.json()[0]["imported"] == []
    fake.close_issue(REPO, one["number"])
    human = project.animus("source", "sync", "--full")
    assert human.code == 0, human.stderr
    assert "gh: listed 1, imported 0, updated 0, cancelled 1" in human.stdout
    fake.fail_next(1, status=503)
    failed = project.animus("--json", "source", "sync", "gh")
    assert failed.code == 5 and failed.stdout == ""
    error = failed.error()
    assert error["code"] == "unavailable" and "503" in error["message"]
    assert project.animus("source", "sync", "nope").code in (2, 3)


def test_the_daemons_poller_waits_out_the_backoff_and_the_rate_limit_and_lists_everything_every_20th_poll(
        project: Project, fake: FakeGitHub) -> None:
    from animus.sources import FULL_SYNC_EVERY, SourcePoller

    fake.add_issue(REPO, "First", labels=["animus"])
    config = load_config(resolve_project(project.repo))
    poller = SourcePoller(SourceContext(project.repo, project.state_dir, project.state_dir / "worktrees"))
    store = project.store()
    try:
        def polls(now: datetime) -> list[Any]:
            return poller.poll_due(store, config, now=now)

        def listings() -> list[str]:
            return [str(e["query"].get("since", "-")) for e in fake.log if e["path"] == f"/repos/{REPO}/issues"]

        now = datetime.now(UTC)
        (first,) = polls(now)
        assert first.ok and listings() == ["-"]  # the first poll of a daemon start lists everything
        assert polls(now + timedelta(seconds=30)) == []  # poll_secs (60) not up yet: GitHub is not asked
        assert len(listings()) == 1
        fake.rate_limit(900)
        (limited,) = polls(now + timedelta(seconds=61))
        assert not limited.ok and "rate limit" in (limited.error or "")
        assert polls(now + timedelta(seconds=61 + 300)) == []  # five minutes on: still before GitHub's reset
        assert len(listings()) == 2
        fake.rate_limit(0)
        (back,) = polls(now + timedelta(seconds=61 + 1000))
        assert back.ok and listings()[-1] != "-"  # incremental again: since the cursor
        moment = now + timedelta(seconds=61 + 1000)
        for _ in range(FULL_SYNC_EVERY - 3):
            moment += timedelta(seconds=61)
            assert polls(moment)[0].ok
        assert listings()[-1] != "-"
        moment += timedelta(seconds=61)
        polls(moment)
        assert listings()[-1] == "-"  # the 20th poll lists everything again (a deletion shows only so)
    finally:
        store.close()

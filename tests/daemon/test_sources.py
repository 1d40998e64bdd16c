"""GitHub issues through the daemon: an issue becomes a task, a run, a landing; its status comment is
edited in place and never doubled, also when the daemon is killed at every outbox step or mid-sync."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import alive, source_links, start, wait_for
from support.engine import Project
from support.fake_github import FakeGitHub
from support.fleet import make_fleet

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
    return source_links(project, "gh")


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
    wait_for(lambda: not alive(pid), 90, f"the daemon to die at {fault}")
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
    wait_for(lambda: not alive(pid), 60, f"the daemon to die at {fault}")
    assert 0 < len(_links(project)) <= 6
    start(project)
    wait_for(lambda: set(_links(project)) == numbers and _cursor(project), 60, "every issue linked and the cursor saved")
    store = project.store()
    try:
        titles = [t.title for t in store.list_tasks() if t.title.startswith("issue ")]
    finally:
        store.close()
    assert sorted(titles) == sorted(f"issue {n}" for n in range(6))  # six tasks, none twice


def _cursor(project: Project) -> str | None:
    store = project.store()
    try:
        return store.source_state("gh").cursor
    finally:
        store.close()


def test_in_a_fleet_one_daemon_syncs_and_a_peer_takes_over_when_it_dies(tmp_path: Path, pg_database: str,
                                                                      fake: FakeGitHub) -> None:
    top = (f"github: {{repo: {REPO}, api_url: \"{fake.url}\"}}\n"
           "sources:\n  - {id: gh, type: github, labels: [animus], poll_secs: 1}\n")
    fleet = make_fleet(tmp_path, pg_database, pool=2, lease=2, sleeps=[0.1], top=top)
    try:
        a, b = fleet.hosts
        first = {str(fake.add_issue(REPO, f"fleet issue {n}", labels=["animus"])["number"]) for n in range(4)}
        a.start()
        b.start()
        wait_for(lambda: _fleet_done(fleet, first), 120, "the first issues to land")
        syncing = [h for h in (a, b) if "event=source_sync" in h.log()]
        assert len(syncing) == 1, [h.name for h in syncing]  # one daemon of the fleet syncs
        (holder,) = syncing
        other = b if holder is a else a
        holder.signal(signal.SIGKILL)
        late = str(fake.add_issue(REPO, "after the syncer died", labels=["animus"])["number"])
        wait_for(lambda: _fleet_done(fleet, first | {late}), 120, "the peer to import and land the late issue")
        assert "event=source_sync" in other.log()
        for number in first | {late}:
            assert fake.count("POST", f"/repos/{REPO}/issues/{number}/comments") == 1
    finally:
        fleet.cleanup()


def _fleet_done(fleet: Any, numbers: set[str]) -> bool:
    with fleet.store() as store:
        links = {link.external_id: link.task_id for link in store.source_items("gh")}
        if set(links) != numbers:
            return False
        if len({t.title for t in store.list_tasks()}) != len(store.list_tasks()):
            raise AssertionError("an issue became two tasks")
        done = all(store.get_task(t).status.value == "done" for t in links.values())
        return done and not store.pending_outbox_by_notifier("source:")


def test_a_markdown_file_becomes_a_task_and_its_landing_rewrites_its_status(
        project_factory: Callable[..., Project]) -> None:
    from support.repo import git

    project = project_factory(extra="sources:\n  - {id: md, type: markdown, path: tasks/, poll_secs: 1}\n")
    tasks = project.repo / "tasks"
    tasks.mkdir()
    good = "---\ntitle: Add a changelog\npriority: high\nlabels: [docs]\nstatus: todo\n---\nKeep a CHANGELOG.md.\n"
    (tasks / "changelog.md").write_text(good)
    (tasks / "broken.md").write_text("---\ntitle: Broken\npriority: soonish\n---\nbody\n")
    git(project.repo, "add", "tasks")
    git(project.repo, "commit", "-q", "-m", "two task files")
    git(project.repo, "branch", "-f", "main", "HEAD")  # the runs land on main; the checkout stays detached
    start(project)

    def landed() -> bool:
        store = project.store()
        try:
            link = store.source_item("md", "tasks/changelog.md")
            done = bool(link and store.get_task(link.task_id).status.value == "done")
        finally:
            store.close()
        return done and "status: done" in git(project.repo, "show", "main:tasks/changelog.md")

    wait_for(landed, 90, "the Markdown task to land and its status to be written")
    on_main = git(project.repo, "show", "main:tasks/changelog.md")
    assert on_main == good.replace("status: todo", "status: done")  # only the status line changed
    subjects = git(project.repo, "log", "--format=%s", "main", "--", "tasks/changelog.md").splitlines()
    assert sum("status → done" in s for s in subjects) == 1, subjects
    listed = project.animus("--json", "source", "list")
    (row,) = listed.json()
    assert row["linked"] == 1 and any(p.startswith("tasks/broken.md:3:11: unknown priority") for p in row["problems"]), row["problems"]


def test_a_linear_issue_becomes_a_task_and_its_state_and_one_comment_follow_the_run(
        project_factory: Callable[..., Project], monkeypatch: pytest.MonkeyPatch) -> None:
    from support.fake_linear import FakeLinear

    with FakeLinear() as linear:
        monkeypatch.setenv("LINEAR_API_KEY", linear.key)
        linear.add_team("ENG")
        issue = linear.add_issue("ENG", "Speed up the build", "It takes ten minutes.", labels=["agent"], priority=2)
        linear.add_issue("ENG", "Not labelled")
        project = project_factory(extra=(
            "sources:\n  - {id: lin, type: linear, team: ENG, states: [Todo], labels: [agent], poll_secs: 1,"
            f" api_url: \"{linear.url}\", priority_map: {{\"2\": high}}}}\n"))
        start(project)

        def told() -> bool:
            store = project.store()
            try:
                link = store.source_item("lin", issue["id"])
                done = bool(link and store.get_task(link.task_id).status.value == "done")
            finally:
                store.close()
            landed_comment = any("landed" in c["body"] for c in linear.comments(issue["id"]))
            return done and linear.issue(issue["id"])["state"] == "Done" and landed_comment

        wait_for(told, 90, "the Linear issue's task to land and the issue to be told")
        store = project.store()
        try:
            links = store.source_items("lin")
            task = store.get_task(links[0].task_id)
        finally:
            store.close()
        assert len(links) == 1 and task.title == "Speed up the build" and task.priority.value == "high"
        assert linear.issue(issue["id"])["state"] == "Done"
        comments = [c for c in linear.comments(issue["id"]) if "animus" in c["body"]]
        assert len(comments) == 1 and "landed" in comments[0]["body"]
        assert linear.count("AnimusCreateComment") == 1

"""A trigger backend plugin through the daemon: an event becomes one task, acked only after the task is committed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import alive, cleanup, daemon_project, start, wait_for
from support.engine import Project
from support.plugins import PY_TRIGGER, install


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., tuple[Project, Path]]]:
    made: list[Project] = []

    def build(*, enqueue: bool = True) -> tuple[Project, Path]:
        inbox = tmp_path / f"inbox{len(made)}"
        inbox.mkdir()
        extra = ("triggers:\n  - {id: inbox, type: plugin, config: {plugin: pytrigger, "
                 f"enqueue: {'true' if enqueue else 'false'}, settings: {{inbox: \"{inbox}\", redeliver_secs: 1}}}}}}\n")
        project = daemon_project(tmp_path / f"p{len(made)}", extra=extra)
        made.append(project)
        install(project.repo, PY_TRIGGER)
        locked = project.animus("plugin", "lock")
        assert locked.code == 0, locked.stderr
        return project, inbox

    yield build
    for project in made:
        cleanup(project)


def _acks(inbox: Path) -> list[dict[str, Any]]:
    log = inbox / "acks.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _trigger_tasks(project: Project) -> list[Any]:
    store = project.store()
    try:
        return [t for t in store.list_tasks() if "trigger-inbox" in t.labels]
    finally:
        store.close()


def _status(project: Project, task_id: str) -> str:
    store = project.store()
    try:
        return store.get_task(task_id).status.value
    finally:
        store.close()


def test_an_event_becomes_one_task_that_runs_and_the_event_is_acked_with_its_id(
        make: Callable[..., tuple[Project, Path]]) -> None:
    project, inbox = make()
    (inbox / "ev-1.json").write_text(json.dumps({"title": "Deploy v1.4", "labels": ["deploy"], "priority": "high",
                                                 "payload": {"ref": "v1.4"}}))
    start(project)
    wait_for(lambda: _acks(inbox), 60, "the event to be acked")
    (task,) = _trigger_tasks(project)
    assert (task.title, task.priority.value, set(task.labels)) == ("Deploy v1.4", "high", {"trigger-inbox", "deploy"})
    assert json.loads(task.description) == {"ref": "v1.4"}
    assert _acks(inbox) == [{"event_id": "ev-1", "task_id": task.id, "duplicate": False}]
    assert (inbox / "acked" / "ev-1.json").exists() and not (inbox / "ev-1.json").exists()
    wait_for(lambda: _status(project, task.id) == "done", 90, "the event's task to run and land")
    (inbox / "ev-2.json").write_text(json.dumps({"title": "Deploy v1.5"}))
    wait_for(lambda: len(_acks(inbox)) == 2, 60, "a second event, while watching")
    assert sorted(t.title for t in _trigger_tasks(project)) == ["Deploy v1.4", "Deploy v1.5"]


def test_a_kill_between_the_commit_and_the_ack_redelivers_the_event_and_makes_no_second_task(
        make: Callable[..., tuple[Project, Path]]) -> None:
    project, inbox = make(enqueue=False)
    (inbox / "ev-9.json").write_text(json.dumps({"title": "Rotate the keys"}))
    first = project.animus("daemon", "start", "--json", env={"ANIMUS_FAULT": "animus.triggers.ack:before"}, timeout=90)
    assert first.code == 0, first.stderr
    pid = first.json()["pid"]
    wait_for(lambda: not alive(pid), 60, "the daemon to die between the commit and the ack")
    (task,) = _trigger_tasks(project)  # committed ...
    assert _acks(inbox) == [] and (inbox / "ev-9.json").exists()  # ... and not acked: the plugin still holds it
    start(project)
    wait_for(lambda: _acks(inbox), 60, "the redelivered event to be acked")
    assert _acks(inbox) == [{"event_id": "ev-9", "task_id": None, "duplicate": True}]
    assert [t.id for t in _trigger_tasks(project)] == [task.id]  # the event id kept it one task
    assert task.status.value == "backlog"


def _plugin_pids(project: Project) -> list[int]:
    binary = str(project.repo / ".animus" / "plugins" / "animus-plugin-pytrigger")
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and binary in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_crashed_trigger_plugin_is_started_and_told_to_watch_again(make: Callable[..., tuple[Project, Path]]) -> None:
    import os
    import signal

    project, inbox = make(enqueue=False)
    (inbox / "before.json").write_text(json.dumps({"title": "Before the crash"}))
    start(project)
    wait_for(lambda: _acks(inbox), 60, "the first event to be acked")
    (pid,) = _plugin_pids(project)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), 10, "the plugin to die")
    (inbox / "after.json").write_text(json.dumps({"title": "After the crash"}))
    wait_for(lambda: len(_acks(inbox)) == 2, 60, "the event sent to the restarted plugin's watch")
    assert sorted(t.title for t in _trigger_tasks(project)) == ["After the crash", "Before the crash"]
    (new_pid,) = _plugin_pids(project)
    assert new_pid != pid

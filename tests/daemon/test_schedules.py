"""Cron schedules: once per due minute, never twice for a minute (also across restarts), catch-up once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from support.daemon import log_text, queue_rows, start, stop, wait_for
from support.engine import Project

SCHEDULES = """\
schedules:
  - id: nightly
    cron: "* * * * *"
    task: {title: Nightly chore, type: chore, priority: low, labels: [scheduled]}
  - id: hourly
    cron: "0 * * * *"
    workflow_ref: main
    catch_up: false
"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _fire(project: Project, when: str) -> list[dict[str, Any]]:
    from animus.config import load_config
    from animus.config.project import resolve_project
    from animus.daemon import fire_due

    store = project.store()
    try:
        return fire_due(store, load_config(resolve_project(project.repo)), _at(when))
    finally:
        store.close()


def _fires(project: Project) -> list[tuple[str, str]]:
    store = project.store()
    try:
        rows = store.conn.execute("SELECT schedule_id, minute FROM schedule_fires ORDER BY minute, schedule_id")
        return [(r["schedule_id"], r["minute"]) for r in rows]
    finally:
        store.close()


def test_a_schedule_due_every_minute_fires_once_per_minute(project_factory: Callable[..., Project]) -> None:
    project = project_factory(extra=SCHEDULES)
    first = _fire(project, "2030-01-01T10:05:10")
    assert [(f["schedule_id"], f["minute"]) for f in first] == [("nightly", "2030-01-01T10:05")]
    assert _fire(project, "2030-01-01T10:05:50") == []  # same minute: nothing
    assert [f["minute"] for f in _fire(project, "2030-01-01T10:06:00")] == ["2030-01-01T10:06"]
    assert _fires(project) == [("nightly", "2030-01-01T10:05"), ("nightly", "2030-01-01T10:06")]
    store = project.store()
    try:
        task = store.get_task(first[0]["task_id"])
    finally:
        store.close()
    assert (task.title, task.status.value, task.type.value, task.priority.value, task.labels) == (
        "Nightly chore", "ready", "chore", "low", ("scheduled",))
    assert {r["task_id"]: r["source"] for r in queue_rows(project)} == {first[0]["task_id"]: "schedule", "TASK-3": "schedule"}


def test_missed_minutes_catch_up_once_and_catch_up_false_skips_them(project_factory: Callable[..., Project]) -> None:
    project = project_factory(extra=SCHEDULES)
    _fire(project, "2030-01-01T09:59:30")
    assert _fire(project, "2030-01-01T10:00:05")[-1]["schedule_id"] == "hourly"  # on time: fires
    # down from 10:01 to 12:30: nightly missed 150 minutes, hourly missed 11:00 and 12:00
    late = _fire(project, "2030-01-01T12:30:20")
    assert [(f["schedule_id"], f["minute"]) for f in late] == [("nightly", "2030-01-01T12:30")]
    _fire(project, "2030-01-01T12:30:40")
    catch = _fire(project, "2030-01-01T12:45:00")
    assert [(f["schedule_id"], f["minute"]) for f in catch] == [("nightly", "2030-01-01T12:45")]
    assert [m for s, m in _fires(project) if s == "hourly"] == ["2030-01-01T10:00"]  # 11:00 and 12:00 not replayed


def test_catch_up_fires_the_latest_missed_minute_only(project_factory: Callable[..., Project]) -> None:
    every_five = "schedules:\n  - id: five\n    cron: \"*/5 * * * *\"\n    task: {title: Five}\n"
    project = project_factory(extra=every_five)
    assert [f["minute"] for f in _fire(project, "2030-01-01T10:00:30")] == ["2030-01-01T10:00"]
    assert [f["minute"] for f in _fire(project, "2030-01-01T10:23:00")] == ["2030-01-01T10:20"]
    assert _fire(project, "2030-01-01T10:24:00") == []
    assert [m for _s, m in _fires(project)] == ["2030-01-01T10:00", "2030-01-01T10:20"]


def test_a_restart_within_the_same_minute_does_not_fire_again(project_factory: Callable[..., Project], monkeypatch: Any) -> None:
    project = project_factory(extra=SCHEDULES.split("  - id: hourly")[0])
    monkeypatch.setenv("ANIMUS_FAKE_NOW", "2030-01-01T10:05:10")
    start(project)
    wait_for(lambda: _fires(project), 20, "the schedule to fire")
    stop(project)
    monkeypatch.setenv("ANIMUS_FAKE_NOW", "2030-01-01T10:05:55")
    start(project)
    wait_for(lambda: log_text(project).count("event=ready") == 2, 20, "the second start")
    stop(project)
    assert _fires(project) == [("nightly", "2030-01-01T10:05")]
    assert log_text(project).count("event=schedule_fired") == 1


def test_disabled_schedule_never_fires(project_factory: Callable[..., Project]) -> None:
    disabled = "schedules:\n  - id: paused\n    cron: \"* * * * *\"\n    enabled: false\n    task: {title: Never}\n"
    project = project_factory(extra=disabled)
    assert _fire(project, "2030-01-01T10:05:10") == []
    assert _fires(project) == []

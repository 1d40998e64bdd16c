"""Queue semantics against a real daemon: priority and FIFO, hold/release, drop, dependencies, dedup, auto-ready."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.daemon import (
    all_done,
    create_task,
    queue_rows,
    run_order,
    start,
    task_statuses,
    unique_impl_script,
    wait_for,
)
from support.engine import Project, live_run_processes


def _enqueue(project: Project, *tasks: str) -> None:
    for task in tasks:
        result = project.animus("queue", "enqueue", task)
        assert result.code == 0, result.stderr


def test_critical_runs_before_low_and_fifo_holds_within_a_priority(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=1)
    low_a = "TASK-1"
    project.animus("task", "update", low_a, "--priority", "low")
    crit_b = create_task(project, "B", priority="critical")
    low_c = create_task(project, "C", priority="low")
    crit_d = create_task(project, "D", priority="critical")
    _enqueue(project, low_a, crit_b, low_c, crit_d)  # the daemon is not up yet: all four wait together
    listed = project.animus("queue", "list", "--json").json()
    assert [e["task_id"] for e in listed] == [crit_b, crit_d, low_a, low_c]
    start(project)
    wait_for(lambda: all_done(project, [low_a, crit_b, low_c, crit_d]), 90, "all four tasks")
    assert run_order(project) == [crit_b, crit_d, low_a, low_c]
    wait_for(lambda: queue_rows(project) == [], 10, "the queue to empty")


def test_held_task_waits_until_released(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=2)
    second = create_task(project, "Second")
    _enqueue(project, "TASK-1", second)
    held = project.animus("queue", "hold", second, "--json")
    assert held.code == 0 and held.json()["status"] == "held"
    start(project)
    wait_for(lambda: task_statuses(project)["TASK-1"] == "done", 60, "TASK-1")
    # the finished run's entry leaves the queue on the daemon's next tick; the held one stays
    wait_for(lambda: [(r["task_id"], r["status"]) for r in queue_rows(project)] == [(second, "held")], 10, "TASK-1's entry to go")
    assert task_statuses(project)[second] == "ready" and run_order(project) == ["TASK-1"]
    assert project.animus("queue", "release", second).code == 0
    wait_for(lambda: task_statuses(project)[second] == "done", 60, "the released task")


def test_drop_removes_a_waiting_entry_and_cancels_a_dispatched_run(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=1, impl=unique_impl_script(10, sleeps=[30.0]))
    waiting = create_task(project, "Waiting", priority="low")
    _enqueue(project, "TASK-1", waiting)
    start(project)
    wait_for(lambda: live_run_processes(project, "TASK-1.main.1-implementation-1"), 30, "the agent to start")
    hold = project.animus("queue", "hold", "TASK-1")
    assert hold.code == 4 and "dispatched" in hold.stderr
    dropped = project.animus("queue", "drop", waiting, "--json")
    assert dropped.code == 0 and dropped.json()["cancelled_run"] is None
    cancelled = project.animus("queue", "drop", "TASK-1", "--json")
    assert cancelled.code == 0 and cancelled.json()["cancelled_run"] == "TASK-1.main.1"
    wait_for(lambda: not live_run_processes(project, "TASK-1.main.1"), 15, "the agent to be stopped")
    assert queue_rows(project) == []
    store = project.store()
    try:
        assert store.get_run("TASK-1.main.1").status.value == "cancelled"
        assert store.list_runs(task_id=waiting) == []
    finally:
        store.close()


def test_a_task_with_an_unfinished_dependency_starts_when_it_is_done(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=2, impl=unique_impl_script(10, sleeps=[1.0]))
    first = create_task(project, "Dependency", priority="low")
    dependent = create_task(project, "Dependent", priority="critical", deps=(first,))
    _enqueue(project, dependent, first)
    start(project)
    wait_for(lambda: all_done(project, [first, dependent]), 90, "both tasks")
    store = project.store()
    try:
        dep_run = store.list_runs(task_id=first)[0]
        waiting_run = store.list_runs(task_id=dependent)[0]
    finally:
        store.close()
    assert dep_run.ended_at is not None and waiting_run.created_at > dep_run.ended_at


def test_enqueueing_twice_gives_one_entry_and_one_run(project_factory: Callable[..., Project], tmp_path: Path) -> None:
    gate = tmp_path / "go"
    # The agent waits for the gate file, so the run is surely in flight when `animus run` comes to follow it
    # (without it, a fast daemon could finish the task first and the follow would find it done).
    impl = {"invocations": [[{"wait_for_file": {"path": str(gate), "timeout": 120}}, *unique_impl_script(1)["invocations"][0]]]}
    project = project_factory(impl=impl)
    first = project.animus("queue", "enqueue", "TASK-1", "--json")
    second = project.animus("queue", "enqueue", "TASK-1", "--json")
    assert first.json()["created"] is True and second.json()["created"] is False
    start(project)
    wait_for(lambda: task_statuses(project)["TASK-1"] == "in_progress", 60, "TASK-1 to start")
    follower = subprocess.Popen(  # already queued and dispatched: follows the same run
        [sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
        env={**os.environ, **project.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert follower.stdout is not None
    first_line = follower.stdout.readline()  # the follower is attached and reporting
    gate.touch()
    rest, err = follower.communicate(timeout=120)
    assert follower.returncode == 0, err
    assert "TASK-1.main.1" in first_line + rest
    wait_for(lambda: task_statuses(project)["TASK-1"] == "done", 60, "TASK-1")
    assert run_order(project) == ["TASK-1"]


def test_auto_run_ready_runs_ready_tasks_and_leaves_the_backlog(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=2, daemon=", auto_run_ready: true")
    ready = create_task(project, "Ready too")
    backlog = create_task(project, "Not yet", status="backlog")
    start(project)
    wait_for(lambda: all_done(project, ["TASK-1", ready]), 90, "the ready tasks")
    assert task_statuses(project)[backlog] == "backlog"
    assert sorted(run_order(project)) == sorted(["TASK-1", ready])
    wait_for(lambda: queue_rows(project) == [], 10, "the queue to empty")

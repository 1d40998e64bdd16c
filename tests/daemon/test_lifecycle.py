"""Daemon lifecycle with real processes: start/status/logs/stop, one executor, run-follow, stop and drain."""

from __future__ import annotations

import os
from collections.abc import Callable

from support.daemon import (
    create_task,
    daemon_info,
    log_text,
    new_session_spawns,
    queue_rows,
    start,
    stop,
    task_statuses,
    unique_impl_script,
    wait_for,
)
from support.engine import Project, live_run_processes


def _agent_running(project: Project, run_prefix: str) -> list[int]:
    return live_run_processes(project, run_prefix)


def test_start_status_logs_and_stop(project_factory: Callable[..., Project]) -> None:
    project = project_factory()
    info = start(project, "--pool-size", "3")
    assert info["pool_size"] == 3 and info["pid"] > 0
    status = project.animus("daemon", "status", "--json")
    assert status.code == 0
    data = status.json()
    assert data["running"] is True and data["pid"] == info["pid"] and data["executor_id"] == info["executor_id"]
    second = project.animus("daemon", "start", "--json")
    assert second.code == 4
    assert str(info["pid"]) in second.error()["message"]
    foreground = project.animus("daemon", "start", "--foreground")
    assert foreground.code == 4 and str(info["pid"]) in foreground.stderr
    logs = project.animus("daemon", "logs", "-n", "100")
    assert logs.code == 0 and "event=ready" in logs.stdout and "event=reconcile" in logs.stdout
    stopped = stop(project)
    assert stopped["stopped"] is True and stopped["forced"] is False
    assert project.animus("daemon", "status", "--json").json() == {"running": False}
    assert daemon_info(project) is None
    assert "event=stopped" in log_text(project)
    again = project.animus("daemon", "stop", "--json")
    assert again.code == 0 and again.json()["running"] is False


def test_animus_run_with_a_live_daemon_enqueues_and_follows_to_completion(project_factory: Callable[..., Project]) -> None:
    project = project_factory()
    start(project)
    result = project.animus("run", "TASK-1", timeout=120)
    assert result.code == 0, (result.stdout, result.stderr)
    assert "queued for the daemon" in result.stdout
    assert "review #1 → advance" in result.stdout and "completed" in result.stdout
    assert task_statuses(project)["TASK-1"] == "done"
    assert "event=dispatched task=TASK-1" in log_text(project)
    wait_for(lambda: queue_rows(project) == [], 10, "the queue to empty")
    again = project.animus("run", "TASK-1")
    assert again.code == 4


def test_stop_leaves_the_agent_running_and_a_restart_reattaches_it(project_factory: Callable[..., Project]) -> None:
    project = project_factory(impl=unique_impl_script(10, sleeps=[3.0]))
    start(project)
    assert project.animus("queue", "enqueue", "TASK-1").code == 0
    pids = wait_for(lambda: _agent_running(project, "TASK-1.main.1-implementation-1"), 30, "the agent to start")
    stop(project)
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids), "stopping the daemon must not stop the agent"
    assert task_statuses(project)["TASK-1"] == "in_progress"
    start(project)
    wait_for(lambda: task_statuses(project)["TASK-1"] == "done", 60, "TASK-1 to finish after the restart")
    spawns = new_session_spawns(project)
    assert len(spawns) == 2 and set(spawns.values()) == {1}, spawns  # implementation and review, each once
    assert not any("--resume" in s["argv"] for s in project.spawns())


def test_stop_drain_waits_for_the_in_flight_run(project_factory: Callable[..., Project]) -> None:
    project = project_factory(impl=unique_impl_script(10, sleeps=[2.0]))
    other = create_task(project, "Not started", priority="low")
    start(project, "--pool-size", "1")
    assert project.animus("queue", "enqueue", "TASK-1").code == 0
    assert project.animus("queue", "enqueue", other).code == 0
    wait_for(lambda: _agent_running(project, "TASK-1.main.1-implementation-1"), 30, "the agent to start")
    stopped = stop(project, "--drain", "--timeout", "60")
    assert stopped["drained"] is True and stopped["forced"] is False
    statuses = task_statuses(project)
    assert statuses["TASK-1"] == "done"
    assert statuses[other] == "ready"  # draining takes no new work; it stays queued
    assert [r["task_id"] for r in queue_rows(project)] == [other]
    assert "event=drained" in log_text(project)

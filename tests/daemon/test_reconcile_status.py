"""Start-up reconciliation (orphans killed, worktrees pruned, dangling entries repaired) and `animus status`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from support.daemon import create_task, log_text, queue_rows, start, stop, task_statuses, wait_for
from support.engine import Project, live_run_processes


def _launch(project: Project, run_id: str, labels: dict[str, str]) -> None:
    from animus import procs

    spec = procs.RunSpec(run_id=run_id, argv=[sys.executable, "-c", "import time; time.sleep(120)"], cwd=str(project.repo),
                         env=dict(os.environ), labels=labels)
    procs.launch(spec, project.state_dir / "runs")


def test_an_orphan_agent_is_killed_at_start_and_a_hand_started_run_is_left_alone(project_factory: Callable[..., Project]) -> None:
    project = project_factory()
    _launch(project, "TASK-99.main.1-implementation-1", {"workflow_run": "TASK-99.main.1", "tool": "scripted"})
    _launch(project, "by-hand-1", {"tool": "scripted"})
    assert live_run_processes(project, "TASK-99.main.1-implementation-1")
    start(project)
    assert live_run_processes(project, "TASK-99.main.1-implementation-1") == []
    assert live_run_processes(project, "by-hand-1")
    log = log_text(project)
    assert "event=reconcile action=kill_orphans" in log and "swept orphan run run_id=TASK-99.main.1-implementation-1" in log


def test_dispatched_entry_whose_workflow_never_reached_dbos_is_enqueued_again(project_factory: Callable[..., Project]) -> None:
    from animus.config import load_config
    from animus.config.project import resolve_project
    from animus.engine import prepare_run

    project = project_factory()
    store = project.store()
    try:  # what a crash between "mark dispatched" and "enqueue in DBOS" leaves behind
        store.enqueue("TASK-1")
        run, _ = prepare_run(store, load_config(resolve_project(project.repo)), "TASK-1", root=project.repo)
        store.mark_dispatched("TASK-1", run.id)
    finally:
        store.close()
    start(project)
    wait_for(lambda: task_statuses(project)["TASK-1"] == "done", 60, "TASK-1")
    assert "event=reenqueued task=TASK-1" in log_text(project)
    wait_for(lambda: queue_rows(project) == [], 10, "the queue to empty")


def test_prune_worktrees_removes_worktrees_of_finished_tasks(project_factory: Callable[..., Project]) -> None:
    project = project_factory(daemon=", prune_worktrees: true")
    from support.repo import git

    worktree = project.state_dir / "worktrees" / "TASK-1"
    git(project.repo, "worktree", "add", "-q", "-b", "animus/task-1", str(worktree), "main")
    assert project.animus("task", "status", "TASK-1", "cancelled").code == 0
    start(project)
    assert not worktree.exists()
    assert "action=prune_worktree task=TASK-1" in log_text(project)


def test_status_json_agrees_with_the_store(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=2, manual=True)
    held = create_task(project, "Held", priority="high")
    low = create_task(project, "Low", priority="low", deps=("TASK-1",))
    for task in ("TASK-1", held, low):
        assert project.animus("queue", "enqueue", task).code == 0
    assert project.animus("queue", "hold", held).code == 0
    before = project.animus("status", "--json").json()
    assert before["daemon"] == {"running": False}
    assert before["queue"]["by_priority"] == {"critical": 0, "high": 0, "medium": 1, "low": 1} and before["queue"]["held"] == 1
    start(project)

    def gate() -> Any:
        data = project.animus("status", "--json").json()
        return data if data["waiting_gates"] else None

    data = wait_for(gate, 60, "the manual gate")
    assert data["daemon"]["running"] is True and data["pool"] == {"size": 2, "used": 1}
    assert data["waiting_gates"][0]["approve"] == "animus workflow approve TASK-1.main.1 --phase signoff"
    store = project.store()
    try:
        rows = {r["task_id"]: r for r in store.conn.execute("SELECT * FROM queue_entries")}
        assert {e["task_id"]: e["status"] for e in data["queue"]["entries"]} == {k: v["status"] for k, v in rows.items()}
        assert [r["run_id"] for r in data["active_runs"]] == [r.id for r in store.list_runs(statuses=())
                                                              if r.status.is_active]
    finally:
        store.close()
    assert data["queue"]["by_priority"]["low"] == 1  # waits for TASK-1 (a dependency)
    approved = project.animus("workflow", "approve", "TASK-1.main.1", "--phase", "signoff")
    assert approved.code == 0, approved.stderr
    second = wait_for(lambda: [g for g in (gate() or {"waiting_gates": []})["waiting_gates"] if g["task_id"] == low], 60,
                      "the dependent task's gate")
    assert project.animus("workflow", "approve", second[0]["run_id"], "--phase", "signoff").code == 0
    wait_for(lambda: task_statuses(project)[low] == "done", 60, "the dependent task")
    final = project.animus("status", "--json").json()
    assert [r["run_id"] for r in final["recent"]] == [f"{low}.main.1", "TASK-1.main.1"]
    assert all(r["status"] == "completed" for r in final["recent"])
    assert final["waiting_gates"] == [] and final["pool"]["used"] == 0
    assert [(e["task_id"], e["status"]) for e in final["queue"]["entries"]] == [(held, "held")]
    human = project.animus("status")
    assert human.code == 0 and "1 held" in human.stdout
    stop(project)

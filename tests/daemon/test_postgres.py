"""The daemon on PostgreSQL: queue, dispatch and landing against the real server."""

from __future__ import annotations

from collections.abc import Callable

from support.daemon import create_task, start, task_statuses, wait_for
from support.engine import Project


def test_the_daemon_drains_its_queue_on_postgresql(project_factory: Callable[..., Project], pg_database: str) -> None:
    project = project_factory(pool=2)
    ids = ["TASK-1", create_task(project, "Second"), create_task(project, "Third", priority="critical")]
    start(project)
    for task_id in ids:
        assert project.animus("queue", "enqueue", task_id).code == 0
    wait_for(lambda: all(task_statuses(project)[t] == "done" for t in ids), 120, "all three tasks to land")
    status = project.animus("status", "--json").json()
    assert status["queue"]["queued"] == 0 and status["queue"]["dispatched"] == 0
    assert not (project.state_dir / "animus.db").exists()  # nothing went to SQLite

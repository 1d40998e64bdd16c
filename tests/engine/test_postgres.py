"""The engine on PostgreSQL: the same run, kill and recovery as on SQLite, against the real server.

Each test gets a database of its own (DBOS keeps its journal in a fixed `dbos` schema, so schemas
cannot separate parallel tests).
"""

from __future__ import annotations

from pathlib import Path

from support.engine import drive, make_project, outcome_of


def test_a_run_with_a_kill_completes_on_postgresql(tmp_path: Path, pg_database: str) -> None:
    project = make_project(tmp_path, manual=True)
    result = drive(project, fault="animus.agent.await:after:2", approver="in-process")
    assert result.exits[0] == -9 and result.exits[-1] == 0, result.outputs[-1][-3000:]
    out = outcome_of(project)
    assert out["run_status"] == "completed" and out["task_status"] == "done"
    assert [d[4] for d in out["decisions"]] == ["advance", "rework", "advance", "advance", "advance"]
    assert out["merges"] == 1 and len(project.spawns()) == 4
    assert not (project.state_dir / "animus.db").exists()  # nothing went to SQLite

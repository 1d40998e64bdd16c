"""Budgets park a run before its next agent phase; a raised budget or a new day lets it finish, across a kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.engine import Project, drive, make_project, outcome_of
from support.repo import git

APPROVE = [{"usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.001}},
           {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]


def _with_budgets(project: Project, budgets: str) -> None:
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    text = text.split("\nbudgets:")[0].rstrip("\n") + "\n"
    config.write_text(text + f"budgets: {budgets}\n")
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "budgets")


def _park_then_kill(project: Project, env: dict[str, str] | None = None) -> None:
    """Run until the run parks on its budget, then kill -9 the executor in its durable wait."""
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                            env={**os.environ, **project.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline and proc.poll() is None:
        store = project.store()
        try:
            runs = store.list_runs(task_id="TASK-1")
            status = runs[0].status.value if runs else None
        finally:
            store.close()
        if status == "waiting_budget":
            break
        time.sleep(0.2)
    proc.kill()
    out = proc.communicate(timeout=30)[0].decode()
    assert status == "waiting_budget", out


def _spent(project: Project) -> dict[str, object]:
    got = project.animus("workflow", "get", "TASK-1.main.1", "--json")
    assert got.code == 0, got.stderr
    data: dict[str, object] = json.loads(got.stdout)["data"]
    return data


@pytest.mark.slow
def test_a_spent_task_budget_parks_the_run_and_a_raised_budget_and_resume_finish_it_across_a_kill(tmp_path: Path) -> None:
    project = make_project(tmp_path, review=APPROVE)
    _with_budgets(project, "{per_task_usd: 0.005}")
    _park_then_kill(project)

    parked = _spent(project)
    assert parked["status"] == "waiting_budget" and "per_task_usd" in str(parked["failure_reason"])
    assert parked["cost"]["cost_usd"] == pytest.approx(0.01)  # type: ignore[index]  # the implementation, once
    assert [p["phase"] for p in parked["phases"]] == ["implementation"]  # type: ignore[index]  # review never started
    status = project.animus("status", "--json")
    assert status.code == 0 and "waiting_budget" in status.stdout

    _with_budgets(project, "{per_task_usd: 1.0}")
    resumed = drive(project, command=("workflow", "resume"), task="TASK-1.main.1")
    assert resumed.exits == [0], resumed.outputs
    done = _spent(project)
    assert done["status"] == "completed"
    assert done["cost"]["cost_usd"] == pytest.approx(0.011)  # type: ignore[index]  # nothing lost or counted twice
    assert len([s for s in project.spawns()]) == 2


@pytest.mark.slow
def test_a_spent_day_budget_parks_new_phases_until_the_day_changes(tmp_path: Path) -> None:
    project = make_project(tmp_path, review=APPROVE)
    _with_budgets(project, "{per_day_usd: 0.005}")
    _park_then_kill(project)
    assert "per_day_usd" in str(_spent(project)["failure_reason"])

    # the next executor's clock is a day later: the per-day spend is zero again, the run goes on by itself
    again = drive(project, env={"ANIMUS_CLOCK_OFFSET_SECS": "86400"})
    assert again.exits == [0], again.outputs
    assert outcome_of(project)["run_status"] == "completed"

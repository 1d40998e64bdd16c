"""Budgets park a run before its next agent phase; a raised budget or a new day lets it finish, across a kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.engine import Project, drive, live_run_processes, make_project, outcome_of
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


def _impl_crossing(gate: Path) -> dict[str, object]:
    """Its first invocation waits for ``gate``, then reports 200k input tokens (~$0.60 on claude-sonnet-4-5) and
    would go on for a minute; its second does the work for $0.01."""
    return {"invocations": [
        [{"write": {"path": "a.txt", "content": "first\n"}}, {"wait_for_file": {"path": str(gate), "timeout": 120}},
         {"usage_now": {"input_tokens": 200_000, "output_tokens": 0}}, {"sleep": 60},
         {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "too late"}}],
        [{"write": {"path": "a.txt", "content": "first\n"}}, {"usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}},
         {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"}}],
    ]}


def _executor(project: Project) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                            env={**os.environ, **project.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _until(what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the executor ended before {what}: {proc.communicate()[0].decode()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no {what} in {timeout}s: {proc.communicate()[0].decode()[-3000:]}")


def _run_status(project: Project) -> str | None:
    store = project.store()
    try:
        runs = store.list_runs(task_id="TASK-1")
        return runs[0].status.value if runs else None
    finally:
        store.close()


@pytest.mark.slow
def test_a_budget_crossed_mid_phase_stops_the_agent_parks_the_run_and_a_raise_and_resume_finish_it_across_kills(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    project = make_project(tmp_path, impl=_impl_crossing(gate), review=APPROVE)
    _with_budgets(project, "{per_task_usd: 0.5}")
    agent_run = "TASK-1.main.1-implementation-1"

    # kill -9 the executor while the agent runs: the next one re-attaches and watches the same stream
    first = _executor(project)
    _until("agent running", lambda: bool(live_run_processes(project, agent_run)), first)
    first.kill()
    first.communicate(timeout=30)
    assert live_run_processes(project, agent_run), "the agent runs detached: it outlives the executor"
    second = _executor(project)
    time.sleep(1.0)  # the recovered workflow is back in its await step
    gate.touch()  # now the agent reports the usage that crosses the budget
    started = time.monotonic()
    _until("waiting_budget", lambda: _run_status(project) == "waiting_budget", second)
    assert time.monotonic() - started < 30, "stopped at the crossing, not after the agent's minute"
    assert live_run_processes(project, agent_run) == [], "the agent's tree was killed"
    exit_record = json.loads((project.state_dir / "runs" / agent_run / "exit.json").read_text())
    assert exit_record["reason"] == "stopped"
    second.kill()  # kill -9 while parked
    second.communicate(timeout=30)

    parked = _spent(project)
    assert parked["status"] == "waiting_budget" and "per_task_usd" in str(parked["failure_reason"])
    phases = parked["phases"]
    assert [(p["phase"], p["attempt"], p["status"]) for p in phases] == [("implementation", 1, "failed")]  # type: ignore[index,union-attr]
    killed_cost = float(phases[0]["cost_usd"])  # type: ignore[index]
    assert 0.6 <= killed_cost < 0.61  # 200k input tokens × $3/M, plus the small messages before them: real spend
    store = project.store()
    try:
        reasons = [d.reason for d in store.decisions("TASK-1.main.1")]
    finally:
        store.close()
    assert len(reasons) == 1 and reasons[0].startswith("budget_exceeded: task TASK-1 spent $0.6"), reasons

    _with_budgets(project, "{per_task_usd: 5.0}")
    resumed = drive(project, command=("workflow", "resume"), task="TASK-1.main.1")
    assert resumed.exits == [0], resumed.outputs
    done = _spent(project)
    assert done["status"] == "completed"
    assert done["cost"]["cost_usd"] == pytest.approx(killed_cost + 0.011)  # type: ignore[index]  # nothing lost or counted twice
    assert [(p["phase"], p["attempt"], p["status"]) for p in done["phases"]] == [  # type: ignore[union-attr,index]
        ("implementation", 1, "failed"), ("implementation", 2, "advanced"), ("review", 1, "advanced")]
    assert len(project.spawns()) == 3


@pytest.mark.parametrize(("limit", "reason"), [
    ("per_run_usd: 0.5", "run TASK-1.main.1 spent $0.6"),
    ("per_day_usd: 0.5", "spent $0.6"),
    ("per_day_tokens: 100000", "used 200"),
])
def test_a_budget_crossed_mid_phase_with_on_exceeded_fail_stops_the_agent_and_fails_the_run(
    tmp_path: Path, limit: str, reason: str,
) -> None:
    gate = tmp_path / "gate"
    gate.touch()  # no waiting: the crossing comes at once
    project = make_project(tmp_path, impl=_impl_crossing(gate), review=APPROVE)
    _with_budgets(project, f"{{{limit}, on_exceeded: fail}}")
    started = time.monotonic()
    ran = drive(project)
    assert ran.exits == [1], ran.outputs
    assert time.monotonic() - started < 40, "stopped at the crossing, not after the agent's minute"
    failed = _spent(project)
    assert failed["status"] == "failed"
    assert str(failed["failure_reason"]).startswith("budget_exceeded: ") and reason in str(failed["failure_reason"])
    assert limit.split(":")[0] in str(failed["failure_reason"])
    assert [(p["phase"], p["status"]) for p in failed["phases"]] == [("implementation", "failed")]  # type: ignore[union-attr,index]
    assert live_run_processes(project, "TASK-1.main.1-implementation-1") == []
    assert len(project.spawns()) == 1

"""A budget crossed while a daemon runs the phase: the agent is stopped, the run parks, and across kill -9s of
the daemon (while the agent runs, and while the run is parked) its spend is counted once; a raise + resume ends it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.daemon import kill, log_text, start, wait_for
from support.engine import Project, live_run_processes
from support.repo import git

RUN = "TASK-1.main.1"
AGENT_RUN = f"{RUN}-implementation-1"


def _impl(gate: Path) -> dict[str, Any]:
    """First invocation: waits for ``gate``, reports 200k input tokens (~$0.60 on claude-sonnet-4-5), would go on for
    a minute. Second: the work, for $0.01."""
    done = {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"}}
    return {"invocations": [
        [{"write": {"path": "a.txt", "content": "first\n"}}, {"wait_for_file": {"path": str(gate), "timeout": 120}},
         {"usage_now": {"input_tokens": 200_000, "output_tokens": 0}}, {"sleep": 60}, done],
        [{"write": {"path": "a.txt", "content": "first\n"}}, {"usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}},
         done],
    ]}


def _budgets(project: Project, budgets: str) -> None:
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text().split("\nbudgets:")[0].rstrip("\n") + "\n"
    config.write_text(text + f"budgets: {budgets}\n")
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "budgets")


def _run(project: Project) -> dict[str, Any]:
    got = project.animus("workflow", "get", RUN, "--json")
    assert got.code == 0, got.stderr
    data: dict[str, Any] = json.loads(got.stdout)["data"]
    return data


def _status(project: Project) -> str | None:
    store = project.store()
    try:
        runs = store.list_runs(task_id="TASK-1")
        return runs[0].status.value if runs else None
    finally:
        store.close()


def test_a_budget_crossed_under_the_daemon_parks_the_run_and_kill_9s_lose_and_double_nothing(
    project_factory: Callable[..., Project], tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    review = {"invocations": [[{"usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.001}},
                               {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]]}
    project = project_factory(pool=1, impl=_impl(gate), review=review)
    _budgets(project, "{per_task_usd: 0.5}")
    assert project.animus("queue", "enqueue", "TASK-1").code == 0
    start(project)
    wait_for(lambda: live_run_processes(project, AGENT_RUN), 60, "the agent to run")
    kill(project)  # the agent lives on; the next daemon's await step re-attaches and watches its stream again
    start(project)
    time.sleep(1.0)
    gate.touch()
    wait_for(lambda: _status(project) == "waiting_budget", 40, f"the run to park; log: {log_text(project)[-2000:]}")
    assert live_run_processes(project, AGENT_RUN) == [], "the agent's tree was killed at the crossing"
    parked = _run(project)
    [phase] = parked["phases"]
    assert (phase["phase"], phase["status"]) == ("implementation", "failed")
    killed_cost = float(phase["cost_usd"])
    assert 0.6 <= killed_cost < 0.61
    status = project.animus("status", "--json").json()
    assert [r["run_id"] for r in status["parked_runs"]] == [RUN], status["parked_runs"]

    kill(project)  # kill -9 while parked, and again a daemon recovers the durable wait
    start(project)
    time.sleep(2.0)
    again = _run(project)
    assert again["status"] == "waiting_budget"
    assert again["cost"] == parked["cost"] and len(again["phases"]) == 1  # nothing lost, nothing counted twice

    _budgets(project, "{per_task_usd: 5.0}")
    resumed = project.animus("workflow", "resume", RUN, timeout=120)
    assert resumed.code == 0, (resumed.stdout, resumed.stderr)
    wait_for(lambda: _status(project) == "completed", 60, "the run to finish")
    done = _run(project)
    assert done["cost"]["cost_usd"] == pytest.approx(killed_cost + 0.011)
    assert [(p["phase"], p["attempt"], p["status"]) for p in done["phases"]] == [
        ("implementation", 1, "failed"), ("implementation", 2, "advanced"), ("review", 1, "advanced")]
    assert len(project.spawns()) == 3

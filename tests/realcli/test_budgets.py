"""A budget crossed while real Claude Code runs: the usage of its API messages (priced from the table, as Claude
prints dollars only in its last line) crosses per_task_usd, the agent is stopped, the run parks; raised + resumed,
it finishes with the stopped attempt's spend counted once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.engine import Project, drive, live_run_processes, make_project
from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import MODELS, isolated_env, require_cli
from support.repo import git

pytestmark = pytest.mark.realcli
KEY_ENV = "ANIMUS_TEST_API_KEY"
RUN = "TASK-1.main.1"

CONFIG = """\
default_workflow: main
agents:
  worker:
    tool: claude
    model: {model}
    base_url: {url}
    api_key_env: {key}
    animus_mcp: false
phases:
  work: {{mode: agent, agent: worker, directive: Write a.txt.}}
workflows:
  - id: main
    phases: [work]
budgets: {{per_task_usd: {limit}}}
"""


def _configure(project: Project, url: str, limit: float) -> None:
    (project.repo / ".animus" / "workflows.yaml").write_text(CONFIG.format(model=MODELS["claude"], url=url, key=KEY_ENV,
                                                                          limit=limit))
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", f"budget {limit}")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = make_project(tmp_path / "p")
    yield made
    for pid in live_run_processes(made, ""):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def _status(project: Project) -> str | None:
    store = project.store()
    try:
        runs = store.list_runs(task_id="TASK-1")
        return runs[0].status.value if runs else None
    finally:
        store.close()


def _get(project: Project, env: dict[str, str]) -> dict[str, Any]:
    got = project.animus("workflow", "get", RUN, "--json", env=env)
    assert got.code == 0, got.stderr
    data: dict[str, Any] = json.loads(got.stdout)["data"]
    return data


def test_real_claude_crossing_a_task_budget_mid_phase_is_stopped_parked_and_finishes_once_raised(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint,
) -> None:
    env = isolated_env(tmp_path / "cli", **project.env, **{KEY_ENV: "test-key"})
    env["PATH"] = f"{require_cli('claude').parent}:{Path(sys.executable).parent}:{env['PATH']}"
    _configure(project, model_endpoint.url, 0.5)
    # 200k input tokens on claude-sonnet-4-5 ($3/M): $0.60 in the first API message; then the model never answers
    model_endpoint.script("anthropic", [Turn.tool("Write", {"file_path": "a.txt", "content": "x\n"}, input_tokens=200_000),
                                        Turn.hang()])
    executor = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                                env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while _status(project) != "waiting_budget":
            assert time.monotonic() < deadline and executor.poll() is None, model_endpoint.summary()
            time.sleep(0.2)
        assert live_run_processes(project, f"{RUN}-work-1") == [], "Claude Code's tree was stopped"
    finally:
        executor.kill()  # kill -9 while parked
        out = executor.communicate(timeout=30)[0].decode()
    exit_record = json.loads((project.state_dir / "runs" / f"{RUN}-work-1" / "exit.json").read_text())
    assert exit_record["reason"] == "stopped", out[-2000:]
    assert exit_record["exit_code"] == 143, exit_record  # Claude Code ends on the SIGTERM itself (128 + 15)
    parked = _get(project, env)
    [phase] = parked["phases"]
    assert phase["status"] == "failed" and 0.6 <= float(phase["cost_usd"]) < 0.61, phase

    _configure(project, model_endpoint.url, 5.0)
    model_endpoint.replace("anthropic", [Turn.final("advance", reason="wrote a.txt")])
    resumed = drive(project, command=("workflow", "resume"), task=RUN, env=env)
    assert resumed.exits == [0], resumed.outputs
    done = _get(project, env)
    assert done["status"] == "completed", done
    second = 120 * 3e-6 + 30 * 15e-6  # what Claude Code priced its one message at
    assert done["cost"]["cost_usd"] == pytest.approx(float(phase["cost_usd"]) + second)
    assert [(p["attempt"], p["status"]) for p in done["phases"]] == [(1, "failed"), (2, "advanced")]

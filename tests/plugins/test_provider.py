"""Provider plugins end to end: a workflow whose agent is `tool: plugin:nodeedit` (the Node.js reference plugin) lands its change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.engine import Project, drive, live_run_processes
from support.plugins import NODE_EDITOR, install
from support.repo import git, make_repo

CONFIG = """\
default_workflow: main
agents:
  editor:
    tool: plugin:nodeedit
    max_attempts: 2
    env: {{NODEEDIT_LEDGER: "{ledger}", NODEEDIT_STATE_DIR: "{state}", NODEEDIT_DELAY_MS: "{delay}"}}
phases:
  implementation: {{mode: agent, agent: editor, directive: Write the plugin file.}}
workflows:
  - id: main
    phases: [implementation]
    post_success:
      merge: {{strategy: merge}}
"""


def _project(tmp: Path, *, delay_ms: int = 0, lock: bool = True) -> Project:
    repo = make_repo(tmp / "repo")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.com")
    ledger = tmp / "ledger.jsonl"
    (repo / ".animus").mkdir()
    (repo / ".animus" / "workflows.yaml").write_text(CONFIG.format(ledger=ledger, state=tmp / "nodeedit-state", delay=delay_ms))
    install(repo, NODE_EDITOR)
    project = Project(repo=repo, ledger=ledger, home=tmp / "home")
    if lock:
        locked = project.animus("plugin", "lock")
        assert locked.code == 0, locked.stderr
    git(repo, "add", ".animus")
    git(repo, "commit", "-q", "-m", "animus config and the provider plugin")
    created = project.animus("task", "create", "--title", "Let the plugin edit", "--status", "ready")
    assert created.code == 0, created.stderr
    return project


def _ledger(project: Project) -> list[dict[str, Any]]:
    """The runs the plugin actually started (its ledger also has a line per call: those are left out)."""
    if not project.ledger.exists():
        return []
    entries = [json.loads(line) for line in project.ledger.read_text().splitlines() if line.strip()]
    return [e for e in entries if "pid" in e]


def _agent_events(project: Project, run_id: str) -> list[dict[str, Any]]:
    log = project.state_dir / "runs" / run_id / "stdout.log"
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_a_plugin_provider_runs_a_phase_and_its_change_lands(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = drive(project)
    assert result.exits == [0], result.outputs

    assert "PLUGIN_EDIT.md" in git(project.repo, "ls-tree", "-r", "--name-only", "main").split()
    landed = git(project.repo, "show", "main:PLUGIN_EDIT.md")
    assert landed.startswith("edited by nodeedit for TASK-1.main.1-implementation-1")
    assert [entry["run_id"] for entry in _ledger(project)] == ["TASK-1.main.1-implementation-1"]

    store = project.store()
    try:
        run = store.list_runs(task_id="TASK-1")[0]
        decisions = [(d.phase, d.verdict, d.effective) for d in store.decisions(run.id)]
        assert run.status.value == "completed"
        assert (run.input_tokens, run.output_tokens) == (120, 30)
    finally:
        store.close()
    assert decisions == [("implementation", "advance", "advance")]
    # the plugin's streamed events are the run's log, like any adapter's output
    kinds = [e["kind"] for e in _agent_events(project, "TASK-1.main.1-implementation-1")]
    assert kinds[:2] == ["session", "text"] and "tool_call" in kinds and kinds[-1] == "result"
    shown = project.animus("logs", "TASK-1.main.1-implementation-1")
    assert shown.code == 0 and "Editing PLUGIN_EDIT.md." in shown.stdout
    assert live_run_processes(project, "TASK-1") == []


def test_an_unlocked_provider_fails_the_phase_with_the_lock_hint(tmp_path: Path) -> None:
    project = _project(tmp_path, lock=False)
    result = drive(project)
    assert result.exits != [0]
    assert _ledger(project) == []  # the plugin never ran
    text = (project.state_dir / "runs" / "TASK-1.main.1-implementation-1" / "stdout.log").read_text()
    assert "not in .animus/plugins.lock" in text and "animus plugin lock" in text


def test_a_provider_run_survives_the_engine_being_killed_mid_run(tmp_path: Path) -> None:
    # The engine is SIGKILLed right after the launch step, while the plugin is still working (3 s):
    # the bridge and the plugin live on under procs' supervisor, and the restarted engine re-attaches.
    project = _project(tmp_path, delay_ms=3000)
    env = {**os.environ, **project.env, "ANIMUS_FAULT": "animus.agent.launch:after"}
    first = subprocess.run([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo, env=env,
                           capture_output=True, timeout=60)
    assert first.returncode == -9, first.stdout.decode()[-2000:]
    deadline = time.monotonic() + 10
    while not _ledger(project) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_run_processes(project, "TASK-1")) == 2  # the bridge and the plugin, still at work

    result = drive(project)
    assert result.exits == [0], result.outputs
    assert [entry["run_id"] for entry in _ledger(project)] == ["TASK-1.main.1-implementation-1"]  # started once
    assert git(project.repo, "show", "main:PLUGIN_EDIT.md").startswith("edited by nodeedit for TASK-1.main.1-implementation-1")
    assert live_run_processes(project, "TASK-1") == []

"""An agent killed mid-phase in a workflow resumes its own session when its adapter can resume (from the adapter, for every tool)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from animus.agents.fake import install_fake_clis
from support.engine import Project, drive, make_project, outcome_of
from support.repo import git

CRASH_THEN_OK = {"invocations": [
    [{"text": "starting"}, {"hang": {}}],  # silent until the idle timeout kills it
    [{"write": {"path": "a.txt", "content": "x\n"}},
     {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "ok"}}],
]}
APPROVE = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]


@pytest.mark.parametrize("tool", ["gemini", "codex"])
def test_a_killed_agent_of_a_resumable_cli_resumes_its_session_in_a_workflow(tmp_path: Path, tool: str) -> None:
    project = make_project(tmp_path, review=APPROVE)
    script = project.repo / ".animus" / f"{tool}.json"
    script.write_text(json.dumps(CRASH_THEN_OK))
    config = project.repo / ".animus" / "workflows.yaml"
    config.write_text(config.read_text().replace(
        "  impl:\n    tool: scripted\n    script: .animus/impl.json\n    max_attempts: 2\n"
        f'    env: {{ANIMUS_FAKE_LEDGER: "{project.ledger}"}}\n',
        f"  impl:\n    tool: {tool}\n    max_attempts: 2\n    idle_timeout_secs: 1\n    animus_mcp: false\n"
        f'    env: {{ANIMUS_FAKE_LEDGER: "{project.ledger}", ANIMUS_FAKE_SCRIPT: "{script}"}}\n',
    ))
    assert f"tool: {tool}" in config.read_text()
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", f"impl on {tool}")
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)

    result = drive(project, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})

    assert result.exits == [0], result.outputs
    assert outcome_of(project)["run_status"] == "completed"
    impl = [s for s in project.spawns() if s["argv"][0] == tool]
    assert len(impl) == 2  # the killed try and its resumption, nothing more
    first, second = impl
    assert "--resume" not in first["argv"]
    assert "resume" in second["argv"] or "--resume" in second["argv"], second["argv"]
    session = _session_of(project, "TASK-1.main.1-implementation-1")
    assert session and session in second["argv"]  # the session the killed try opened


def _session_of(project: Project, agent_run_id: str) -> str | None:
    from animus.agents import RunReader

    reader = RunReader(agent_run_id, project.state_dir / "runs")
    reader.drain()
    outcome = reader.outcome()
    return outcome.session_id if outcome else None

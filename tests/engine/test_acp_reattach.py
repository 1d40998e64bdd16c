"""A `tool: acp` agent survives a kill -9 of the executor: the restarted run re-attaches to the same bridge and agent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support.engine import drive, make_project, outcome_of
from support.repo import git

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_acp_agent.py"
DECISION = json.dumps({"kind": "phase_decision", "verdict": "advance", "confidence": 0.9, "risk": "low",
                       "reason": "wrote a.txt", "evidence": []})
CONFIG = """\
default_workflow: main
agents:
  acp:
    tool: acp
    command: [{python}, {fake}, {script}, {ledger}]
phases:
  work: {{mode: agent, agent: acp, directive: Write a.txt.}}
workflows:
  - id: main
    phases: [work]
    post_success:
      merge: {{strategy: merge}}
"""


def test_a_kill_of_the_executor_while_the_acp_agent_works_reattaches_without_a_second_agent(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    script = tmp_path / "acp-script.json"
    ledger = tmp_path / "acp-ledger.jsonl"
    script.write_text(json.dumps({"steps": [
        {"message": "Working."}, {"sleep": 3}, {"write": {"path": "a.txt", "content": "acp\n"}}, {"message": DECISION},
    ]}))
    config = CONFIG.format(python=json.dumps(sys.executable), fake=json.dumps(str(FAKE)),
                           script=json.dumps(str(script)), ledger=json.dumps(str(ledger)))
    (project.repo / ".animus" / "workflows.yaml").write_text(config)
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "an ACP agent")

    # SIGKILL `animus run` once the agent is launched, before the run awaits it; the restart re-attaches
    result = drive(project, fault="animus.agent.await:before:1", timeout=90)
    assert result.exits[0] == -9 and result.exits[-1] == 0, result.outputs
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len({e["pid"] for e in entries if e["kind"] == "initialize"}) == 1, entries  # one agent process
    assert [e["kind"] for e in entries].count("session/prompt") == 1
    outcome = outcome_of(project)
    assert outcome["run_status"] == "completed" and outcome["phases"] == [("work", 1, "advanced")], outcome
    assert git(project.repo, "show", "main:a.txt") == "acp\n"

"""A secret in an agent profile's ``env:`` reaches the agent but no output, commit or database byte (issue 12.4)."""

from __future__ import annotations

import json
from pathlib import Path

from support.api import build
from support.engine import IMPL_SCRIPT, drive, make_project
from support.repo import git

SECRET = "sk-ant-UNIQUE-7f3a9c1e5b"


def test_a_profile_env_secret_reaches_the_agent_and_no_output_commit_or_database(tmp_path: Path) -> None:
    impl = json.loads(json.dumps(IMPL_SCRIPT))
    first = impl["invocations"][0]
    first.insert(0, {"print_env": ["ANTHROPIC_API_KEY"]})
    for step in first:
        if "decision" in step:
            step["decision"]["reason"] = f"used key {SECRET} to write a.txt"
    project = make_project(tmp_path, impl=impl)
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    marker = '    script: .animus/impl.json\n    max_attempts: 2\n    env: {'
    assert marker in text
    config.write_text(text.replace(marker, marker + f'ANTHROPIC_API_KEY: "{SECRET}", ', 1))
    assert project.animus("config", "validate").code == 0
    git(project.repo, "commit", "-q", "-am", "impl agent gets a key")

    result = drive(project)
    assert result.exits == [0], result.outputs
    run_id = "TASK-1.main.1"
    raw_logs = list((project.state_dir / "runs").glob("*/stdout.log"))
    assert raw_logs and any(f"ANTHROPIC_API_KEY={SECRET}" in p.read_text() for p in raw_logs), "the agent got the key"

    outputs = {
        "logs": project.animus("logs", run_id).stdout,
        "logs --raw": project.animus("logs", "--raw", run_id).stdout,
        "workflow get": project.animus("--json", "workflow", "get", run_id).stdout,
        "config show": project.animus("--json", "config", "show").stdout,
        "git log": git(project.repo, "log", "--format=%B", "main"),
    }
    agent_run = f"{run_id}-implementation-1"
    api = build(project)
    with api.client:
        for path in (f"/api/v1/runs/{agent_run}", f"/api/v1/runs/{agent_run}/log", f"/api/v1/runs/{agent_run}/stream",
                     f"/api/v1/workflow-runs/{run_id}",
                     f"/api/v1/workflow-runs/{run_id}/phases", f"/api/v1/workflow-runs/{run_id}/decisions", "/api/v1/overview"):
            response = api.client.get(path, headers={"Authorization": f"Bearer {api.token}"})
            assert response.status_code == 200, (path, response.text[:300])
            outputs[f"GET {path}"] = response.text
    for name, out in outputs.items():
        assert out, name
        assert SECRET not in out, name
    plan = json.loads(outputs["workflow get"])["data"]["plan"]
    assert plan["phases"][0]["agent"]["env"]["ANTHROPIC_API_KEY"] == "$secret"
    for db in project.state_dir.glob("*.db*"):
        assert SECRET.encode() not in db.read_bytes(), db.name

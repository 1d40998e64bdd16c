"""tool: acp with the REAL Gemini CLI in ACP mode (`gemini --acp`) against the scripted endpoint.

Through `animus agent run --agent ID` and through a workflow whose second phase is `read_only: true`:
the write the model asks for there reaches animus as `session/request_permission`, is refused, and the
worktree stays as it was.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from animus import procs
from animus.agents import AgentProfile, NoDecision, read_run, start_agent_run
from support.engine import Project, drive, make_project
from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import MODELS, cache_dir, isolated_env, require_cli
from support.repo import git

pytestmark = pytest.mark.realcli

AGENT = """\
  gem:
    tool: acp
    command: [gemini, --acp, -m, {model}]
    api_key_env: GEMINI_API_KEY
    env:
      GOOGLE_GEMINI_BASE_URL: "{url}"
      GEMINI_CLI_HOME: "{home}"
      GEMINI_CLI_TRUST_WORKSPACE: "true"
"""
WORKFLOW = """\
default_workflow: main
agents:
{agent}
phases:
  work: {{mode: agent, agent: gem, directive: Create hello.txt containing hi.}}
  review: {{mode: agent, agent: gem, read_only: true, directive: Review the change.}}
workflows:
  - id: main
    phases: [work, review]
    post_success:
      merge: {{strategy: merge}}
"""


def _gemini_home(tmp: Path) -> Path:
    """Gemini's own home for the test: API-key auth (else it wants the gateway auth for a base URL), no folder trust."""
    home = tmp / "gemini-home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    settings = {"security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}}}
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return home


def _agent(tmp: Path, ep: ModelEndpoint) -> str:
    return AGENT.format(model=MODELS["gemini"], url=ep.url, home=_gemini_home(tmp))


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    require_cli("gemini")
    # `gemini` is not on PATH: the acp adapter finds the pinned CLI of that name in the install cache.
    env = isolated_env(tmp, GEMINI_API_KEY="test-key", ANIMUS_CLI_CACHE=str(cache_dir()), **extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def _write(path: str) -> Turn:
    return Turn.tool("write_file", {"file_path": path, "content": "hi\n"})


def test_gemini_acp_through_agent_run_writes_by_a_real_tool_call_and_returns_a_verdict(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    repo = tmp_path / "repo"
    (repo / ".animus").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".animus" / "workflows.yaml").write_text(
        f"agents:\n{_agent(tmp_path, model_endpoint)}phases:\n  p: {{mode: agent, agent: gem}}\n"
        "workflows:\n  - id: main\n    phases: [p]\n"
    )
    model_endpoint.script("gemini", [_write("hello.txt"), Turn.final("advance", input_tokens=200, output_tokens=40)])
    env = _env(tmp_path, ANIMUS_HOME=str(tmp_path / "animus-home"))
    proc = subprocess.run(
        [sys.executable, "-m", "animus.cli.main", "agent", "run", "--agent", "gem", "--prompt",
         "Create hello.txt containing hi.", "--json", "--timeout", "120"],
        cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summary = next((e for e in reversed(events) if e.get("kind") == "summary"), None)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (tmp_path / "animus-home").glob("*/runs/*/std*.log"))
    detail = f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}\nendpoint: {model_endpoint.summary()}\nlogs:\n{logs}"
    assert summary is not None and (proc.returncode, summary["status"]) == (0, "ok"), detail
    assert (repo / "hello.txt").read_text() == "hi\n"
    assert summary["verdict"] == "advance"
    assert (summary["input_tokens"], summary["output_tokens"]) == (120 + 200, 30 + 40), detail
    assert summary["session_id"]
    assert any(e["kind"] == "tool_call" for e in events) and any(e["kind"] == "tool_result" for e in events)
    [log] = (tmp_path / "animus-home").glob("*/runs/*/stdout.log")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(x["acp"] == "permission" and x["granted"] for x in lines)  # the write was asked for, and granted
    assert any(x["acp"] == "fs" and x["op"] == "write" and x["ok"] for x in lines)  # … and went through animus
    assert "phase_decision" in json.dumps(model_endpoint.main_requests("gemini")[0].body)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "p")


def test_gemini_acp_through_a_workflow_writes_then_is_refused_a_write_in_a_read_only_phase(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    (project.repo / ".animus" / "workflows.yaml").write_text(WORKFLOW.format(agent=_agent(tmp_path, model_endpoint)))
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "gemini over ACP")
    model_endpoint.script("gemini", [
        _write("hello.txt"), Turn.final("advance", reason="wrote hello.txt"),   # work
        _write("review.txt"), Turn.final("advance", reason="looks right"),      # review (read-only)
    ])
    env = _env(tmp_path / "cli", **project.env)
    result = drive(project, env=env, timeout=240)
    runs = project.state_dir / "runs"
    logs = {p.parent.name: p.read_text() for p in runs.glob("*/stdout.log")}
    detail = f"{result.outputs}\nendpoint: {model_endpoint.summary()}\nlogs: {list(logs)}"
    assert result.exits == [0], detail
    got = project.animus("workflow", "get", "TASK-1.main.1", "--json", env=env)
    data: dict[str, Any] = json.loads(got.stdout)["data"]
    assert data["status"] == "completed", detail
    assert [(p["phase"], p["status"]) for p in data["phases"]] == [("work", "advanced"), ("review", "advanced")]
    review_log = next(text for name, text in logs.items() if "-review-" in name)
    refusals = [x for x in map(json.loads, review_log.splitlines()) if x["acp"] == "permission"]
    assert refusals and not refusals[0]["granted"] and "read-only" in refusals[0]["reason"], review_log[-3000:]
    assert git(project.repo, "show", "main:hello.txt").strip() == "hi"  # the work phase's file landed
    listed = git(project.repo, "ls-tree", "-r", "--name-only", "main")
    assert "review.txt" not in listed  # the read-only phase changed nothing
    worktrees = [p for p in (project.state_dir / "worktrees").glob("*/review.txt")]
    assert worktrees == []


# -- claude-code-acp (Claude Code through the Agent SDK, as an ACP agent) -------------------------------------------

CLAUDE_AGENT = """\
agents:
  cc:
    tool: acp
    command: [claude-code-acp]
    api_key_env: ANTHROPIC_API_KEY
    env:
      ANTHROPIC_BASE_URL: "{url}"
      ANTHROPIC_MODEL: {model}
      CLAUDE_CONFIG_DIR: "{home}"
phases:
  p: {{mode: agent, agent: cc}}
workflows:
  - id: main
    phases: [p]
"""


def _claude_write(path: Path) -> Turn:
    # claude-code-acp replaces Claude's Write with its own MCP tool, which writes through the ACP client
    return Turn.tool("mcp__acp__Write", {"file_path": str(path), "content": "hi\n"})


def test_claude_code_acp_through_agent_run_writes_through_animus_and_returns_a_verdict(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    require_cli("claude-code-acp")
    repo = tmp_path / "repo"
    (repo / ".animus").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".animus" / "workflows.yaml").write_text(
        CLAUDE_AGENT.format(url=model_endpoint.url, model=MODELS["claude"], home=tmp_path / "claude-home")
    )
    model_endpoint.script("anthropic", [_claude_write(repo / "hello.txt"), Turn.final("advance")])
    env = _env(tmp_path, ANIMUS_HOME=str(tmp_path / "animus-home"), ANTHROPIC_API_KEY="test-key")
    proc = subprocess.run(
        [sys.executable, "-m", "animus.cli.main", "agent", "run", "--agent", "cc", "--prompt",
         "Create hello.txt containing hi.", "--json", "--timeout", "120"],
        cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summary = next((e for e in reversed(events) if e.get("kind") == "summary"), None)
    detail = f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}\nendpoint: {model_endpoint.summary()}"
    assert summary is not None and (proc.returncode, summary["status"]) == (0, "ok"), detail
    assert (repo / "hello.txt").read_text() == "hi\n"
    assert summary["verdict"] == "advance"
    [log] = (tmp_path / "animus-home").glob("*/runs/*/stdout.log")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(x["acp"] == "fs" and x["op"] == "write" and x["ok"] for x in lines)


def test_claude_code_acp_in_a_read_only_run_is_refused_the_write(tmp_path: Path, model_endpoint: ModelEndpoint) -> None:
    binary = require_cli("claude-code-acp")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    model_endpoint.script("anthropic", [_claude_write(repo / "hello.txt"), Turn.final("advance")])
    profile = AgentProfile(
        tool="acp", command=[str(binary)], read_only=True, timeout_secs=120,
        env={"ANTHROPIC_BASE_URL": model_endpoint.url, "ANTHROPIC_API_KEY": "test-key",
             "ANTHROPIC_MODEL": MODELS["claude"], "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-home")},
    )
    runs = tmp_path / "runs"
    handle = start_agent_run(profile, "Create hello.txt containing hi.", cwd=repo, runs_dir=runs,
                             state_dir=tmp_path / "state", environ=_env(tmp_path))
    procs.attach(handle.run_id, runs).wait(timeout=150)
    view = read_run(handle.run_id, runs)
    log = (runs / handle.run_id / "stdout.log").read_text()
    assert not (repo / "hello.txt").exists(), log[-3000:]
    [asked] = [x for x in map(json.loads, log.splitlines()) if x["acp"] == "permission"]
    assert not asked["granted"] and "read-only (tool kind 'edit')" in asked["reason"]
    assert any(e.kind == "error" and "permission refused" in e.data["message"] for e in view.events)
    # Claude Code ends its turn on a refusal: no second model request, so no verdict either
    assert view.outcome is not None and view.outcome.status == "ok" and isinstance(view.outcome.decision, NoDecision)
    assert len(model_endpoint.main_requests("anthropic")) == 1


def test_gemini_acp_survives_a_kill_of_the_executor_during_a_slow_model_turn_without_a_second_agent(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    workflow = WORKFLOW.replace("phases: [work, review]", "phases: [work]")
    (project.repo / ".animus" / "workflows.yaml").write_text(workflow.format(agent=_agent(tmp_path, model_endpoint)))
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "gemini over ACP")
    slow = dataclasses.replace(_write("hello.txt"), delay_secs=6.0)
    model_endpoint.script("gemini", [slow, Turn.final("advance", reason="wrote hello.txt")])
    env = _env(tmp_path / "cli", **project.env)
    # SIGKILL `animus run` right after the launch, while gemini waits on its first (slow) model turn
    result = drive(project, env=env, fault="animus.agent.await:before:1", timeout=180)
    detail = f"{result.outputs}\nendpoint: {model_endpoint.summary()}"
    assert result.exits[0] == -9 and result.exits[-1] == 0, detail
    main = model_endpoint.main_requests("gemini")
    assert len(main) == 2 and model_endpoint.exhausted == [], detail  # one agent: nothing asked twice
    runs = sorted(p.name for p in (project.state_dir / "runs").iterdir())
    assert runs == ["TASK-1.main.1-work-1"], runs
    log = (project.state_dir / "runs" / runs[0] / "stdout.log").read_text()
    assert [json.loads(line)["acp"] for line in log.splitlines()].count("initialize") == 1
    assert git(project.repo, "show", "main:hello.txt").strip() == "hi"


def test_claude_code_acp_through_a_workflow_writes_in_the_worktree_and_the_change_lands(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    require_cli("claude-code-acp")
    config = CLAUDE_AGENT.format(url=model_endpoint.url, model=MODELS["claude"], home=tmp_path / "claude-home")
    config = config.replace("  p: {mode: agent, agent: cc}", "  p: {mode: agent, agent: cc, directive: Create hello.txt containing hi.}")
    config = "default_workflow: main\n" + config + "    post_success:\n      merge: {strategy: merge}\n"
    (project.repo / ".animus" / "workflows.yaml").write_text(config)
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "claude-code-acp")
    worktree_file = project.state_dir / "worktrees" / "TASK-1" / "hello.txt"
    model_endpoint.script("anthropic", [_claude_write(worktree_file), Turn.final("advance", reason="wrote hello.txt")])
    # IS_SANDBOX=yes (as on some CI machines) once made claude-code-acp's claude refuse every session as root
    env = _env(tmp_path / "cli", **{**project.env, "ANTHROPIC_API_KEY": "test-key", "IS_SANDBOX": "yes"})
    result = drive(project, env=env, timeout=240)
    detail = f"{result.outputs}\nendpoint: {model_endpoint.summary()}"
    assert result.exits == [0], detail
    got = project.animus("workflow", "get", "TASK-1.main.1", "--json", env=env)
    data: dict[str, Any] = json.loads(got.stdout)["data"]
    assert data["status"] == "completed", detail
    assert [(p["phase"], p["status"]) for p in data["phases"]] == [("p", "advanced")], detail
    [log] = (project.state_dir / "runs").glob("*/stdout.log")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(x["acp"] == "fs" and x["op"] == "write" and x["ok"] for x in lines)  # written through animus
    assert git(project.repo, "show", "main:hello.txt").strip() == "hi"  # and landed on main


def test_gemini_acp_survives_a_kill_9_of_the_daemon_during_a_slow_model_turn_without_a_second_agent(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    from support.daemon import cleanup, kill, log_text, wait_for

    workflow = WORKFLOW.replace("phases: [work, review]", "phases: [work]")
    (project.repo / ".animus" / "workflows.yaml").write_text(workflow.format(agent=_agent(tmp_path, model_endpoint)))
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "gemini over ACP")
    slow = dataclasses.replace(_write("hello.txt"), delay_secs=8.0)
    model_endpoint.script("gemini", [slow, Turn.final("advance", reason="wrote hello.txt")])
    env = _env(tmp_path / "cli", **project.env)

    def run_status() -> str | None:
        store = project.store()
        try:
            runs = store.list_runs(task_id="TASK-1")
            return runs[0].status.value if runs else None
        finally:
            store.close()

    try:
        assert project.animus("queue", "enqueue", "TASK-1", env=env).code == 0
        assert project.animus("daemon", "start", "--json", env=env, timeout=90).code == 0
        # the agent is mid-turn: gemini's first model request is in, its answer 8 s away
        wait_for(lambda: model_endpoint.main_requests("gemini"), 90, f"gemini's first request; {log_text(project)[-2000:]}")
        kill(project)  # SIGKILL: the bridge and gemini, in their own session, live on
        assert project.animus("daemon", "start", "--json", env=env, timeout=90).code == 0
        wait_for(lambda: run_status() == "completed", 150,
                 f"the run to complete; endpoint: {model_endpoint.summary()}; {log_text(project)[-2000:]}")
    finally:
        cleanup(project)
    main = model_endpoint.main_requests("gemini")
    assert len(main) == 2 and model_endpoint.exhausted == [], model_endpoint.summary()  # one agent: nothing asked twice
    runs = sorted(p.name for p in (project.state_dir / "runs").iterdir())
    assert runs == ["TASK-1.main.1-work-1"], runs
    log = (project.state_dir / "runs" / runs[0] / "stdout.log").read_text()
    assert [json.loads(line)["acp"] for line in log.splitlines()].count("initialize") == 1
    assert git(project.repo, "show", "main:hello.txt").strip() == "hi"

"""build_plan gives every MCP-capable agent animus's own MCP server, frozen into the plan, unless opted out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from animus.agents import get_adapter
from animus.config import load_config_files
from animus.engine._plan import build_plan, profile_from_plan
from animus.mcp import server_argv

CONFIG = """\
mcp_servers:
  docs: {command: [docs-server, --stdio], env: {DOCS_MODE: ro}}
agents:
  coder: {tool: claude, mcp_servers: [docs]}
  quiet: {tool: codex, animus_mcp: false}
  gem: {tool: gemini, model: gemini-2.5-flash}
  gem-shared-home: {tool: gemini, model: gemini-2.5-flash, isolate_home: false}
  old: {tool: aider}
  fake: {tool: scripted, script: s.json}
phases:
  a: {mode: agent, agent: coder}
  b: {mode: agent, agent: quiet}
  c: {mode: agent, agent: gem}
  d: {mode: agent, agent: gem-shared-home}
  e: {mode: agent, agent: old}
  f: {mode: agent, agent: fake}
workflows:
  - {id: default, phases: [a, b, c, d, e, f]}
"""


def _servers(tmp_path: Path) -> dict[str, list[dict[str, object]]]:
    (tmp_path / "workflows.yaml").write_text(CONFIG)
    config = load_config_files([tmp_path / "workflows.yaml"], tmp_path)
    plan = build_plan(config, "default", root=tmp_path)
    return {p["agent_id"]: p["agent"]["mcp_servers"] for p in plan["phases"]}


def test_build_plan_injects_the_animus_server_with_its_argv_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANIMUS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANIMUS_DATABASE_URL", "postgresql://db.example/animus")
    servers = _servers(tmp_path)["coder"]

    assert [s["id"] for s in servers] == ["docs", "animus"]  # the agent's own servers stay first
    animus = servers[1]
    assert animus["command"] == server_argv(tmp_path, scope="agent") == [
        sys.executable, "-m", "animus.cli.main", "--project-root", str(tmp_path.resolve()), "mcp", "serve",
        "--scope", "agent",  # an agent's own server cannot approve its gates or queue work
    ]
    assert animus["env"] == {
        "ANIMUS_HOME": str(tmp_path / "home"),
        "ANIMUS_PROJECT_ROOT": str(tmp_path.resolve()),
        "ANIMUS_DATABASE_URL": "postgresql://db.example/animus",
    }


def test_build_plan_leaves_out_the_database_url_when_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANIMUS_DATABASE_URL", raising=False)
    assert "ANIMUS_DATABASE_URL" not in _servers(tmp_path)["coder"][1]["env"]


def test_build_plan_respects_opt_out_and_tools_without_mcp(tmp_path: Path) -> None:
    servers = _servers(tmp_path)
    assert servers["quiet"] == []  # animus_mcp: false
    assert [s["id"] for s in servers["gem"]] == ["animus"]
    # gemini reads servers only from the settings file of an isolated home; aider and the fake take none
    assert servers["gem-shared-home"] == servers["old"] == servers["fake"] == []


def test_build_plan_without_root_injects_nothing(tmp_path: Path) -> None:
    (tmp_path / "workflows.yaml").write_text(CONFIG)
    plan = build_plan(load_config_files([tmp_path / "workflows.yaml"], tmp_path), "default")
    assert [s["id"] for s in plan["phases"][0]["agent"]["mcp_servers"]] == ["docs"]


def test_planned_claude_agent_gets_mcp_config_and_the_server_allow_rule(tmp_path: Path) -> None:
    (tmp_path / "workflows.yaml").write_text(CONFIG)
    plan = build_plan(load_config_files([tmp_path / "workflows.yaml"], tmp_path), "default", root=tmp_path)
    profile = profile_from_plan(plan["phases"][0]["agent"])
    inv = get_adapter("claude").build_invocation(profile, "hi", cwd=tmp_path, state_dir=tmp_path / "state")

    allowed = inv.argv[inv.argv.index("--allowedTools") + 1 : inv.argv.index("--output-format")]
    assert allowed == ["Read", "Edit", "Write", "Bash", "Glob", "Grep", "mcp__animus"]
    assert "--strict-mcp-config" in inv.argv
    written = next(text for path, text in inv.files_to_write.items() if path.name.startswith("mcp-config"))
    assert '"animus"' in written and "mcp" in written and '"docs"' in written


def test_planned_codex_and_gemini_agents_let_the_animus_tools_run_unprompted(tmp_path: Path) -> None:
    (tmp_path / "workflows.yaml").write_text(CONFIG.replace("animus_mcp: false", "animus_mcp: true"))
    plan = build_plan(load_config_files([tmp_path / "workflows.yaml"], tmp_path), "default", root=tmp_path)
    codex, gemini = (profile_from_plan(plan["phases"][i]["agent"]) for i in (1, 2))

    argv = get_adapter("codex").build_invocation(codex, "hi", cwd=tmp_path, state_dir=tmp_path / "s").argv
    assert 'mcp_servers.animus.default_tools_approval_mode="approve"' in argv
    inv = get_adapter("gemini").build_invocation(gemini, "hi", cwd=tmp_path, state_dir=tmp_path / "s")
    settings = next(text for path, text in inv.files_to_write.items() if path.name == "settings.json")
    assert '"trust": true' in settings

"""The REAL agent CLIs call animus's own MCP server, injected into every agent run, against the project's database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import support.realcli_wire as wire
from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import API_OF, MODELS, isolated_env, require_cli

pytestmark = pytest.mark.realcli
KEY_ENV = "ANIMUS_TEST_API_KEY"
SEEDED_TITLE = "Teach the parser about tabs"
# Codex's feature that drops the `mcp__` from MCP tool namespaces (`animus`, not `mcp__animus`): a codex whose
# config turns it on must work as well (docs/real-clis.md, "Codex and MCP tool names").
NON_PREFIXED = ("-c", "features.non_prefixed_mcp_tool_names=true")


def animus(tool: str, tmp_path: Path, cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = isolated_env(tmp_path, ANIMUS_HOME=str(tmp_path / "animus-home"), **{KEY_ENV: "test-key"})
    env["PATH"] = f"{require_cli(tool).parent}:{env['PATH']}"
    script = shutil.which("animus", path=str(Path(sys.executable).parent))
    argv = [script] if script else [sys.executable, "-c", "from animus.cli.main import main; main()"]
    try:
        return subprocess.run(
            [*argv, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"animus {' '.join(args[:2])} ({tool}) did not finish: {exc}")


def _stderr_logs(tmp_path: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")[-1500:] for p in (tmp_path / "animus-home").glob("*/runs/*/stderr.log")
    )


def _project(
    tool: str,
    ep: ModelEndpoint,
    tmp_path: Path,
    *,
    animus_mcp: bool = True,
    own_server: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> Path:
    cwd = tmp_path / "repo"
    cwd.mkdir()
    subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    agent = {
        "tool": tool,
        "model": MODELS[tool],
        # codex appends /responses to its provider base_url; the others add their own /v1… paths
        "base_url": ep.url + "/v1" if tool == "codex" else ep.url,
        "api_key_env": KEY_ENV,
        "timeout_secs": 120,
        "animus_mcp": animus_mcp,
        "extra_args": list(extra_args),
    }
    config: dict[str, Any] = {
        "agents": {"worker": agent},
        "phases": {"impl": {"mode": "agent", "agent": "worker"}},
        "workflows": [{"id": "default", "phases": ["impl"]}],
    }
    if own_server:
        # The same server, registered by the user under another id: animus adds no allow rule for it.
        argv = [sys.executable, "-m", "animus.cli.main", "--project-root", str(cwd.resolve()), "mcp", "serve"]
        config["mcp_servers"] = {own_server: {"command": argv, "env": {"ANIMUS_HOME": str(tmp_path / "animus-home")}}}
        agent["mcp_servers"] = [own_server]
    (cwd / ".animus").mkdir()
    (cwd / ".animus" / "workflows.yaml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    created = animus(tool, tmp_path, cwd, "task", "create", "--title", SEEDED_TITLE, "--json")
    assert created.returncode == 0, created.stderr
    return cwd


def _run(tool: str, tmp_path: Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = animus(
        tool, tmp_path, cwd, "agent", "run", "--agent", "worker", "--json", "--prompt", "List the tasks.", timeout=150
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summaries = [e for e in lines if e.get("kind") == "summary"]
    assert summaries, f"exit={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, summaries[-1]


def _declared_tools(tool: str, body: dict[str, Any]) -> list[str]:
    if tool == "gemini":
        return [d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    return [str(t.get("name")) for t in body.get("tools", [])]


def _tool_results(tool: str, body: dict[str, Any]) -> list[str]:
    """The tool results the CLI sent back to the model in this request (as text)."""
    if tool == "claude":
        return [
            json.dumps(block.get("content"))
            for msg in body.get("messages", [])
            if isinstance(msg.get("content"), list)
            for block in msg["content"]
            if block.get("type") == "tool_result"
        ]
    if tool == "codex":
        return [json.dumps(item.get("output")) for item in body.get("input", []) if item.get("type") == "function_call_output"]
    return [
        json.dumps(part["functionResponse"])
        for content in body.get("contents", [])
        for part in content.get("parts", [])
        if "functionResponse" in part
    ]


def _advertises(tool: str, body: dict[str, Any], server: str) -> bool:
    """Whether the CLI's first request offers the model MCP server `server`'s tools."""
    if tool == "codex":
        # Deferred behind tool_search in a namespace: `mcp__<server>`, or `<server>` with non_prefixed_mcp_tool_names.
        return wire.mcp_namespace(body, server) is not None
    if tool == "claude":
        # Deferred: the tools are listed by name for its ToolSearch, not declared in `tools`.
        return f"mcp__{server}__" in json.dumps(body)
    return any(name.startswith(f"mcp_{server}_") for name in _declared_tools(tool, body))


@pytest.mark.parametrize(
    ("tool", "extra_args"),
    [
        pytest.param("claude", (), id="claude"),
        pytest.param("codex", (), id="codex"),
        pytest.param("codex", NON_PREFIXED, id="codex-non-prefixed-mcp-names"),
        pytest.param("gemini", (), id="gemini"),
    ],
)
def test_real_cli_calls_the_injected_animus_mcp_server_and_sees_the_projects_tasks(
    tool: str, extra_args: tuple[str, ...], tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _project(tool, model_endpoint, tmp_path, extra_args=extra_args)
    # The scripted model calls task_list under the name the CLI offered it (see realcli_wire.openai_call).
    model_endpoint.script(API_OF[tool], [Turn.mcp_tool("animus", "task_list", {}), Turn.final("advance")])
    proc, summary = _run(tool, tmp_path, cwd)

    detail = f"{summary}\nendpoint: {model_endpoint.summary()}\nagent stderr:\n{_stderr_logs(tmp_path)}"
    requests = model_endpoint.main_requests(API_OF[tool])
    assert len(requests) >= 2, detail
    assert _advertises(tool, requests[0].body, "animus"), f"{json.dumps(requests[0].body)[-3000:]}\n{detail}"
    results = _tool_results(tool, requests[1].body)
    assert any(SEEDED_TITLE in r and "TASK-1" in r for r in results), f"tool results: {results}\n{detail}"
    assert (proc.returncode, summary["status"], summary["verdict"]) == (0, "ok", "advance"), detail


def test_real_claude_without_animus_mcp_gets_no_animus_tools(tmp_path: Path, model_endpoint: ModelEndpoint) -> None:
    cwd = _project("claude", model_endpoint, tmp_path, animus_mcp=False)
    model_endpoint.script("anthropic", [Turn.final("advance")])
    proc, summary = _run("claude", tmp_path, cwd)

    declared = _declared_tools("claude", model_endpoint.main_requests("anthropic")[0].body)
    assert (proc.returncode, summary["status"]) == (0, "ok"), summary
    assert declared and not [name for name in declared if name.startswith("mcp__")], declared


def test_real_claude_denies_an_mcp_server_that_no_allow_rule_covers(tmp_path: Path, model_endpoint: ModelEndpoint) -> None:
    # Why the adapter adds `mcp__animus` to --allowedTools: headless acceptEdits refuses unlisted MCP tools.
    cwd = _project("claude", model_endpoint, tmp_path, animus_mcp=False, own_server="tasks")
    model_endpoint.script("anthropic", [Turn.mcp_tool("tasks", "task_list", {}), Turn.final("advance")])
    _run("claude", tmp_path, cwd)

    requests = model_endpoint.main_requests("anthropic")
    results = _tool_results("claude", requests[1].body) if len(requests) > 1 else []
    assert results and not any(SEEDED_TITLE in r for r in results), results
    assert "requested permissions to use mcp__tasks__task_list" in results[0], results


@pytest.mark.parametrize(("tool", "expected"), [("codex", "requires approval, but approval policy is never"), ("gemini", SEEDED_TITLE)])
def test_real_cli_with_a_user_registered_server_without_animus_approval_settings(
    tool: str, expected: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    # Pins why codex gets default_tools_approval_mode="approve" for the animus server, and that gemini's yolo
    # mode already runs MCP tools without `trust` (animus sets trust anyway, for approval modes below yolo).
    cwd = _project(tool, model_endpoint, tmp_path, animus_mcp=False, own_server="tasks")
    model_endpoint.script(API_OF[tool], [Turn.mcp_tool("tasks", "task_list", {}), Turn.final("advance")])
    _run(tool, tmp_path, cwd)

    requests = model_endpoint.main_requests(API_OF[tool])
    assert requests and _advertises(tool, requests[0].body, "tasks"), model_endpoint.summary()
    results = _tool_results(tool, requests[1].body) if len(requests) > 1 else []
    assert any(expected in r for r in results), results

"""The server injected into agents (`mcp serve --scope agent`) cannot decide gates or queue work (issue 12.6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio

from support.repo import make_repo

WITHHELD = {"workflow_approve", "workflow_reject", "queue_enqueue"}
AGENT_TOOLS = {"task_list", "task_get", "task_create", "task_update", "task_status", "queue_list",
               "workflow_list", "workflow_get", "run_log_tail"}


async def _agent_session(repo: Path, home: Path) -> dict[str, Any]:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from animus.mcp import server_argv
    from mcp import ClientSession

    argv = server_argv(repo, scope="agent")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={"ANIMUS_HOME": str(home),
                                                                      "PATH": os.environ.get("PATH", "")})
    out: dict[str, Any] = {}
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            out["tools"] = {t.name for t in (await session.list_tools()).tools}
            out["created"] = await session.call_tool("task_create", {"title": "Found while working"})
            out["approve"] = await session.call_tool("workflow_approve", {"run_id": "run-1", "note": "approved by root"})
            out["reject"] = await session.call_tool("workflow_reject", {"run_id": "run-1"})
            out["enqueue"] = await session.call_tool("queue_enqueue", {"task_id": "TASK-1"})
            out["queue"] = await session.call_tool("queue_list", {})
    return out


def test_the_agent_scoped_server_lists_no_gate_or_queue_tool_and_refuses_them_if_called(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    out = anyio.run(_agent_session, repo, tmp_path / "home")
    assert out["tools"] == AGENT_TOOLS
    assert not {t for t in out["tools"] if any(w in t for w in ("approve", "reject", "cancel", "enqueue"))}
    assert not out["created"].is_error  # agents still create tasks and report progress
    for name in ("approve", "reject", "enqueue"):
        assert out[name].is_error and "Unknown tool" in out[name].content[0].text, out[name].content
    assert out["queue"].structured_content == {"entries": []}


def test_the_injected_command_line_is_the_agent_scope_and_a_persons_is_the_full_set(tmp_path: Path) -> None:
    from animus.agents import animus_mcp_server
    from animus.mcp import AGENT_WITHHELD_TOOLS, server_argv

    assert animus_mcp_server(tmp_path).command == server_argv(tmp_path, scope="agent")
    assert server_argv(tmp_path, scope="agent")[-4:] == ["mcp", "serve", "--scope", "agent"]
    assert server_argv(tmp_path)[-2:] == ["mcp", "serve"]  # `animus mcp config` / a person's editor
    assert AGENT_WITHHELD_TOOLS == WITHHELD


def test_build_server_in_the_agent_scope_has_none_of_the_withheld_tools(tmp_path: Path) -> None:
    from animus.config.project import Project
    from animus.mcp import build_server

    project = Project(root=tmp_path, state_dir=tmp_path / "state")
    agent = {t.name for t in anyio.run(build_server(project, scope="agent").list_tools)}
    full = {t.name for t in anyio.run(build_server(project).list_tools)}
    assert agent == AGENT_TOOLS and full == AGENT_TOOLS | WITHHELD

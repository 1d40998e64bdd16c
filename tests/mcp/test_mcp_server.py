"""`animus mcp serve` over stdio, driven by the official SDK's own client in a real subprocess."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

from support.repo import make_repo

EXPECTED_TOOLS = {
    "task_list", "task_get", "task_create", "task_update", "task_status", "queue_list", "queue_enqueue",
    "workflow_list", "workflow_get", "workflow_approve", "workflow_reject", "run_log_tail",
}


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def _session_run(repo: Path, home: Path) -> dict[str, Any]:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from animus.mcp import server_argv
    from mcp import ClientSession

    argv = server_argv(repo)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={"ANIMUS_HOME": str(home),
                                                                      "PATH": os.environ.get("PATH", "")})
    out: dict[str, Any] = {}
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            out["tools"] = {t.name for t in (await session.list_tools()).tools}
            created = _payload(await session.call_tool("task_create", {"title": "From an agent", "priority": "high",
                                                                       "labels": ["mcp"], "status": "ready"}))
            out["created"] = created
            out["listed"] = _payload(await session.call_tool("task_list", {"label": "mcp"}))
            out["got"] = _payload(await session.call_tool("task_get", {"task_id": created["id"].lower()}))
            out["updated"] = _payload(await session.call_tool("task_update", {"task_id": created["id"],
                                                                              "description": "more detail"}))
            out["queued"] = _payload(await session.call_tool("queue_enqueue", {"task_id": created["id"]}))
            out["queue"] = _payload(await session.call_tool("queue_list", {}))
            out["runs"] = _payload(await session.call_tool("workflow_list", {}))
            out["missing"] = await session.call_tool("task_get", {"task_id": "TASK-999"})
            out["bad"] = await session.call_tool("task_status", {"task_id": created["id"], "status": "sleeping"})
    return out


def test_sdk_client_lists_tools_and_calls_task_create_list_get_and_workflow_list(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    out = anyio.run(_session_run, repo, tmp_path / "home")
    assert EXPECTED_TOOLS <= out["tools"]
    created = out["created"]
    assert created["id"] == "TASK-1" and created["priority"] == "high" and created["labels"] == ["mcp"]
    assert [t["id"] for t in out["listed"]["tasks"]] == ["TASK-1"]
    assert out["got"]["title"] == "From an agent"
    assert out["updated"]["description"] == "more detail"
    assert out["queued"]["created"] is True and [e["task_id"] for e in out["queue"]["entries"]] == ["TASK-1"]
    assert out["runs"] == {"runs": []}
    assert out["missing"].is_error and "TASK-999 not found" in out["missing"].content[0].text
    assert out["bad"].is_error and "invalid status" in out["bad"].content[0].text
    # the same store the CLI reads
    from support.cli import run_animus

    shown = run_animus(["task", "get", "TASK-1", "--json"], cwd=repo, env={"ANIMUS_HOME": str(tmp_path / "home")})
    assert shown.json()["description"] == "more detail"


def test_server_argv_starts_this_python_with_the_project_root(tmp_path: Path) -> None:
    from animus.mcp import server_argv

    argv = server_argv(tmp_path)
    assert argv[0] == sys.executable and argv[-2:] == ["mcp", "serve"]
    assert argv[argv.index("--project-root") + 1] == str(tmp_path.resolve())

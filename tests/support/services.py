"""Services test helpers: one real project (git repo, config with a manual gate, SQLite store) behind its three front ends.

Each test reaches the same rule through the CLI (a real `animus` process), the HTTP API (Starlette's
TestClient over the real app) and MCP (the real server's tools, called in process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import anyio

from support.api import Api, animus_project
from support.engine import Project

ADVANCE = {"invocations": [[{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "done"}}]]}


@dataclass
class Fronts:
    """One project behind the CLI, the HTTP API and MCP."""

    project: Project
    api: Api
    mcp: Any

    def store(self) -> Any:
        return self.api.store()

    def mcp_call(self, tool: str, args: dict[str, Any]) -> Any:
        """The tool's structured result; an animus error comes back as the SDK's ToolError."""
        result = anyio.run(self.mcp.call_tool, tool, args)
        assert not result.is_error, result.content
        return result.structured_content

    def pending_run(self, task_id: str = "TASK-1") -> Any:
        """A pending run of ``task_id`` (what the daemon creates when it dispatches), without DBOS."""
        from animus.config import load_config
        from animus.engine import prepare_run

        proj = animus_project(self.project)
        with self.store() as store:
            run, created = prepare_run(store, load_config(proj), task_id, root=proj.root)
        assert created
        return run

    def run_to_gate(self) -> tuple[subprocess.Popen[bytes], str]:
        """`animus run TASK-1` in the background, until its run waits at the manual gate; returns (process, run id)."""
        proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=self.project.repo,
                                env={**os.environ, **self.project.env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with self.store() as store:
                run = store.active_run_for_task("TASK-1")
                if run is not None and run.status.value == "waiting_manual":
                    return proc, run.id
            assert proc.poll() is None, f"`animus run` ended with {proc.returncode} before the gate"
            time.sleep(0.1)
        proc.kill()
        raise AssertionError("the run never reached its manual gate")

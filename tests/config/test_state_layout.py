"""One state layout: every path in the state dir is named by config.project.StateLayout, and everyone asks it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from animus.config import DaemonInfo, read_daemon_info
from animus.config.project import Project, StateLayout


def test_the_layout_names_every_state_path(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    assert {
        "db": layout.db_path, "runs": layout.runs_dir, "worktrees": layout.worktrees_dir, "logs": layout.logs_dir,
        "daemon_log": layout.daemon_log, "engine_log": layout.engine_log, "daemon_info": layout.daemon_info,
        "executor_id": layout.executor_id, "executor_lock": layout.executor_lock, "web_token": layout.web_token,
        "agent_home": layout.agent_home("codex"),
    } == {
        "db": tmp_path / "animus.db", "runs": tmp_path / "runs", "worktrees": tmp_path / "worktrees",
        "logs": tmp_path / "logs", "daemon_log": tmp_path / "logs" / "daemon.log",
        "engine_log": tmp_path / "logs" / "engine.log", "daemon_info": tmp_path / "daemon.json",
        "executor_id": tmp_path / "executor-id", "executor_lock": tmp_path / "executor.lock",
        "web_token": tmp_path / "web-token", "agent_home": tmp_path / "agent-homes" / "codex",
    }


def test_project_engine_daemon_api_and_agents_take_their_paths_from_the_layout(tmp_path: Path) -> None:
    from animus.agents._adapter import _home_dir
    from animus.api import token_path
    from animus.daemon import info_path, log_path
    from animus.engine import EngineContext

    layout = StateLayout(tmp_path)
    project = Project(root=tmp_path / "repo", state_dir=tmp_path)
    assert project.layout == layout
    assert (project.db_path, project.runs_dir, project.worktrees_dir, project.logs_dir) == (
        layout.db_path, layout.runs_dir, layout.worktrees_dir, layout.logs_dir)
    ctx = EngineContext(tmp_path / "repo", tmp_path, "sqlite://")
    assert (ctx.layout, ctx.runs_dir, ctx.worktrees_dir) == (layout, layout.runs_dir, layout.worktrees_dir)
    assert (info_path(tmp_path), log_path(tmp_path), token_path(tmp_path)) == (
        layout.daemon_info, layout.daemon_log, layout.web_token)
    assert _home_dir(tmp_path, "gemini") == layout.agent_home("gemini")


def test_daemon_json_has_one_reader_and_the_daemon_writes_what_it_reads(tmp_path: Path) -> None:
    from animus.daemon import read_info
    from animus.daemon._info import _write_info
    from animus.procs import start_time

    assert read_daemon_info(tmp_path) is None
    info = DaemonInfo(pid=os.getpid(), proc_start=start_time(os.getpid()) or 0, started_at="2026-01-01T00:00:00+00:00",
                      started_epoch=1.0, executor_id="exec-1", pool_size=2, project_root=str(tmp_path), http_port=4177)
    _write_info(tmp_path, info)
    assert read_daemon_info(tmp_path) == info == read_info(tmp_path)
    # same pid, another process: the record is still there, but no daemon is running
    StateLayout(tmp_path).daemon_info.write_text(json.dumps({**asdict(info), "proc_start": info.proc_start + 1}))
    assert read_daemon_info(tmp_path) is not None and read_info(tmp_path) is None
    # not a record a daemon writes: nobody reads it as one
    StateLayout(tmp_path).daemon_info.write_text(json.dumps({"pid": os.getpid()}))
    assert read_daemon_info(tmp_path) is None

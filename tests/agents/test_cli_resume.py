"""`animus agent run --resume SESSION_ID` against the fake agent CLIs on PATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.fakes import fake_cli_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return fake_cli_env(tmp_path)


def animus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "animus.cli.main", *args],
        cwd=env["REPO"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_resume_flag_continues_the_given_session(env: dict[str, str], tool: str) -> None:
    sid = "0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b"
    proc = animus(env, "agent", "run", "--tool", tool, "--prompt", "go on", "--resume", sid, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "ok" and summary["session_id"] == sid
    status = json.loads(animus(env, "agent", "status", summary["run_id"], "--json").stdout)["data"]
    assert status["labels"]["session_id"] == sid and status["labels"]["session_resume"] == "1"


def test_resume_flag_with_a_tool_that_cannot_resume_exits_2(env: dict[str, str]) -> None:
    proc = animus(env, "agent", "run", "--tool", "aider", "--prompt", "x", "--resume", "abc", "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert "cannot resume" in error["message"]

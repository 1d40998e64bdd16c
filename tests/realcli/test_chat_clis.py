"""The REAL opencode and aider through `animus agent run`, against the scripted OpenAI Chat Completions endpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.model_endpoint import CHAT, ModelEndpoint, Turn, decision_json
from support.realcli import MODELS, isolated_env, require_cli, save_capture

pytestmark = pytest.mark.realcli
KEY_ENV = "ANIMUS_TEST_API_KEY"


def _repo(tmp_path: Path) -> Path:
    cwd = tmp_path / "repo"
    cwd.mkdir()
    subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "start"], check=True)
    return cwd


def agent_run(tool: str, ep: ModelEndpoint, tmp_path: Path, cwd: Path, timeout: float = 90,
              capture: str = "") -> tuple[int, list[dict[str, Any]], dict[str, Any], str]:
    """`animus agent run --tool T --json` with the real CLI first on PATH: exit code, events, summary, stderr logs."""
    env = isolated_env(tmp_path, ANIMUS_HOME=str(tmp_path / "animus-home"), **{KEY_ENV: "test-key"})
    env["PATH"] = f"{require_cli(tool).parent}:{env['PATH']}"
    script = shutil.which("animus", path=str(Path(sys.executable).parent))
    argv = [script] if script else [sys.executable, "-m", "animus.cli.main"]
    argv += ["agent", "run", "--tool", tool, "--prompt", "Create hello.txt containing hi.", "--json",
             "--model", MODELS[tool], "--base-url", ep.url + "/v1", "--api-key-env", KEY_ENV,
             "--timeout", str(int(timeout))]
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout + 30, check=False)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    logs = "\n".join(p.read_text(errors="replace")[-2000:]
                     for p in (tmp_path / "animus-home").glob("*/runs/*/stderr.log"))
    if os.environ.get("ANIMUS_REALCLI_CAPTURE") == "1" and capture:
        # the CLI's own stdout, for tests/realcli/test_captured_goldens.py (refreshed only on request)
        (stdout_log,) = (tmp_path / "animus-home").glob("*/runs/*/stdout.log")
        save_capture(tool, capture, stdout_log.read_text(errors="replace"),
                     {str(tmp_path.resolve()): "/tmp/REALCLI", str(tmp_path): "/tmp/REALCLI"},
                     suffix=".txt" if tool == "aider" else ".jsonl")  # aider prints plain text
    summaries = [e for e in events if e.get("kind") == "summary"]
    assert summaries, f"no summary; exit={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{logs}"
    return proc.returncode, events, summaries[-1], logs


def _whole_file_edit() -> Turn:
    # aider's edits are text: the "whole" edit format is the file's name, then its full content in a fence.
    return Turn.say("I'll create it.\n\nhello.txt\n```\nhi\n```\n\n" + decision_json("advance"),
                    input_tokens=200, output_tokens=40)


def test_real_opencode_writes_a_file_by_its_write_tool_with_verdict_and_tokens(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    model_endpoint.script(CHAT, [Turn.tool("write", {"filePath": str(cwd / "hello.txt"), "content": "hi\n"}),
                                 Turn.final("advance", input_tokens=200, output_tokens=40)])
    code, events, summary, logs = agent_run("opencode", model_endpoint, tmp_path, cwd, capture="write")
    detail = f"{summary}\nendpoint: {model_endpoint.summary()}\nstderr:\n{logs}"
    assert (code, summary["status"]) == (0, "ok"), detail
    assert (cwd / "hello.txt").read_text() == "hi\n"
    assert summary["verdict"] == "advance" and summary["session_id"].startswith("ses_")
    assert (summary["input_tokens"], summary["output_tokens"]) == (120 + 200, 30 + 40), detail
    assert [e["name"] for e in events if e["kind"] == "tool_call"] == ["write"]
    assert "phase_decision" in json.dumps(model_endpoint.main_requests(CHAT)[0].body)


def test_real_aider_writes_a_file_by_a_whole_file_edit_with_verdict_and_tokens(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    model_endpoint.script(CHAT, [_whole_file_edit()])
    code, _events, summary, logs = agent_run("aider", model_endpoint, tmp_path, cwd, capture="write")
    detail = f"{summary}\nendpoint: {model_endpoint.summary()}\nstderr:\n{logs}"
    assert (code, summary["status"]) == (0, "ok"), detail
    assert (cwd / "hello.txt").read_text() == "hi\n"
    assert summary["verdict"] == "advance"
    assert (summary["input_tokens"], summary["output_tokens"]) == (200, 40), detail
    assert not (cwd / ".gitignore").exists()  # --no-gitignore: aider leaves the worktree's .gitignore alone


@pytest.mark.parametrize("tool", ["opencode", pytest.param("aider", marks=pytest.mark.slow)])
def test_a_429_from_the_endpoint_is_rate_limited(tool: str, tmp_path: Path, model_endpoint: ModelEndpoint) -> None:
    # aider retries for ~60 s (0.125 s doubling to 32 s) before it gives up, and then exits 0: hence slow.
    cwd = _repo(tmp_path)
    model_endpoint.script(CHAT, [Turn.rate_limit(retry_after=0)])
    code, _events, summary, logs = agent_run(tool, model_endpoint, tmp_path, cwd, timeout=150, capture="429")
    assert code == 1 and summary["status"] == "rate_limited", f"{summary}\n{model_endpoint.summary()}\n{logs}"
    assert "rate limit" in summary["reason"].lower()

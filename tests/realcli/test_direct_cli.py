"""The REAL Claude Code / Codex / Gemini CLI binaries, driven directly against the scripted model endpoint.

These pin down what the genuine CLIs do (argv, env, stdin, auth, tool calls, faults, resume); the
captured stdout becomes golden files (refresh with ANIMUS_REALCLI_CAPTURE=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import API_OF, DirectRun, capture, direct_invocation, jsonl, run_direct

pytestmark = pytest.mark.realcli


def _repo(tmp_path: Path) -> Path:
    cwd = tmp_path / "repo"
    cwd.mkdir()
    subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    return cwd


def _write_turn(tool: str, cwd: Path) -> Turn:
    """A model turn asking for the tool each CLI writes files with."""
    if tool == "claude":
        return Turn.tool("Write", {"file_path": str(cwd / "hello.txt"), "content": "hi\n"})
    if tool == "codex":
        return Turn.tool("exec_command", {"cmd": "printf 'hi\\n' > hello.txt"})
    return Turn.tool("write_file", {"file_path": str(cwd / "hello.txt"), "content": "hi\n"})


def _session_of(tool: str, run: DirectRun, claude_session: str) -> str:
    """The id each CLI resumes by: ours for claude, codex's thread id, gemini's init session id."""
    if tool == "claude":
        return claude_session
    if tool == "codex":
        return str(next(e["thread_id"] for e in run.events if e.get("type") == "thread.started"))
    return str(next(e["session_id"] for e in run.events if e.get("type") == "init"))


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_real_cli_writes_a_file_through_a_real_tool_call(
    tool: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    model_endpoint.script(api, [_write_turn(tool, cwd), Turn.final("advance", input_tokens=200, output_tokens=40)])
    argv, env = direct_invocation(
        tool, model_endpoint.url, cwd, tmp_path, "Create hello.txt containing hi.", session_id=str(uuid.uuid4())
    )
    run = run_direct(argv, env, cwd)
    capture(tool, "write", run, tmp_path)

    assert run.returncode == 0, run.describe()
    assert (cwd / "hello.txt").read_text() == "hi\n"
    main = model_endpoint.main_requests(api)
    assert len(main) == 2, model_endpoint.summary()
    assert model_endpoint.remaining(api) == 0 and not model_endpoint.unknown, model_endpoint.summary()
    assert "phase_decision" in run.stdout
    if tool == "claude":
        result = run.of_type("result")[-1]
        assert (result["subtype"], result["is_error"], result["terminal_reason"]) == ("success", False, "completed")
        assert result["usage"]["input_tokens"] == 120 + 200 and result["usage"]["output_tokens"] == 30 + 40
        assert result["total_cost_usd"] > 0
        # the tool_result of the Write went back to the model in the second request
        blocks = main[1].body["messages"][-1]["content"]
        assert any(b.get("type") == "tool_result" for b in blocks)
    elif tool == "codex":
        done = run.of_type("turn.completed")[-1]["usage"]
        assert (done["input_tokens"], done["output_tokens"]) == (320, 70)
        assert any(i.get("type") == "function_call_output" for i in main[1].body["input"])
    else:
        stats = run.of_type("result")[-1]["stats"]
        assert (stats["input_tokens"], stats["output_tokens"], stats["tool_calls"]) == (320, 70, 1)
        parts = main[1].body["contents"][-1]["parts"]
        assert any("functionResponse" in p for p in parts)


def test_claude_reports_401_as_success_subtype_with_is_error(tmp_path: Path, model_endpoint: ModelEndpoint) -> None:
    cwd = _repo(tmp_path)
    model_endpoint.script("anthropic", [Turn.unauthorized()])
    argv, env = direct_invocation("claude", model_endpoint.url, cwd, tmp_path, "hi", session_id=str(uuid.uuid4()))
    # Without this Claude Code retries a 401 ten times with backoff (minutes).
    env["CLAUDE_CODE_MAX_RETRIES"] = "0"
    run = run_direct(argv, env, cwd)
    capture("claude", "401", run, tmp_path)

    result = run.of_type("result")[-1]
    assert result["subtype"] == "success" and result["is_error"] is True, run.describe()
    assert (result["terminal_reason"], result["api_error_status"]) == ("api_error", 401)
    assert run.returncode == 1  # 2.1.332 exits 1 here (the research doc expected 0)
    synthetic = run.of_type("assistant")[-1]
    assert synthetic["error"] == "authentication_failed" and synthetic["is_api_error_message"] is True
    assert len(model_endpoint.main_requests("anthropic")) == 1


@pytest.mark.parametrize(
    ("tool", "reset_in"),
    [("claude", 3600), ("codex", 3600), ("codex", 3 * 86400), ("gemini", 3600)],
    ids=["claude", "codex-today", "codex-later-day", "gemini"],
)
def test_real_cli_gives_up_on_a_long_429_without_a_busy_loop(
    tool: str, reset_in: int, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    reset = int(time.time()) + reset_in
    model_endpoint.script(api, [Turn.rate_limit(retry_after=reset_in, reset_epoch=reset)])
    argv, env = direct_invocation(tool, model_endpoint.url, cwd, tmp_path, "hi", session_id=str(uuid.uuid4()))
    run = run_direct(argv, env, cwd, timeout=60)
    capture(tool, "429" if reset_in <= 3600 else "429-later-day", run, tmp_path)

    assert run.returncode != 0, run.describe()
    assert len(model_endpoint.main_requests(api)) <= 2, model_endpoint.summary()
    if tool == "claude":
        result = run.of_type("result")[-1]
        assert (result["is_error"], result["api_error_status"]) == (True, 429)
        assert run.of_type("assistant")[-1]["error"] == "rate_limit"
    elif tool == "codex":
        failed = run.of_type("turn.failed")[-1]["error"]["message"]
        stamp = datetime.fromtimestamp(reset, UTC)
        clock = f"{stamp.hour % 12 or 12}:{stamp:%M %p}."
        # Local time (TZ=UTC here); the date ("Nov 29th, 2026 ") is printed only when the reset is not today.
        assert "usage limit" in failed and failed.endswith(clock), failed
        if stamp.date() != datetime.now(UTC).date():
            assert f"try again at {stamp:%b} {stamp.day}" in failed and f", {stamp.year} {clock}" in failed, failed
    else:
        result = run.of_type("result")[-1]
        assert result["status"] == "error" and "quota" in result["error"]["message"]


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_real_cli_resumes_its_session_after_sigkill_mid_turn(
    tool: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    model_endpoint.script(api, [_write_turn(tool, cwd), Turn.hang("Let me check the result")])
    session_id = str(uuid.uuid4())
    argv, env = direct_invocation(tool, model_endpoint.url, cwd, tmp_path, "Create hello.txt.", session_id=session_id)
    out_path = tmp_path / "first.out"
    with out_path.open("w") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            model_endpoint.wait_for(lambda r: r.answered_with == "fault:hang", timeout=60)
            time.sleep(0.3)  # let the CLI flush what it printed for the tool step
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    first = DirectRun(proc.returncode, out_path.read_text(), "")
    assert proc.returncode == -signal.SIGKILL
    assert (cwd / "hello.txt").exists()
    capture(tool, "killed", first, tmp_path)
    session = _session_of(tool, first, session_id)

    model_endpoint.script(api, [Turn.final("advance")])
    argv, env = direct_invocation(tool, model_endpoint.url, cwd, tmp_path, "Continue.", resume=session)
    run = run_direct(argv, env, cwd)
    capture(tool, "resume", run, tmp_path)

    assert run.returncode == 0, run.describe()
    resumed = model_endpoint.main_requests(api)[-1].body
    if tool == "claude":
        assert run.of_type("result")[-1]["session_id"] == session
        blocks = [b for m in resumed["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])]
        assert any(b.get("type") == "tool_result" for b in blocks), resumed["messages"]
    elif tool == "codex":
        assert run.of_type("thread.started")[0]["thread_id"] == session
        assert any(i.get("type") == "function_call_output" for i in resumed["input"])
    else:
        assert run.of_type("init")[0]["session_id"] == session
        assert any("functionResponse" in p for c in resumed["contents"] for p in c.get("parts", []))
    assert jsonl(run.stdout), run.describe()


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_real_cli_retries_a_stream_cut_mid_message_and_completes(
    tool: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    model_endpoint.script(api, [Turn.cut("Half a sent"), Turn.final("advance", before="Recovered.")])
    argv, env = direct_invocation(tool, model_endpoint.url, cwd, tmp_path, "hi", session_id=str(uuid.uuid4()))
    run = run_direct(argv, env, cwd, timeout=60)
    capture(tool, "cut", run, tmp_path)

    assert run.returncode == 0, run.describe()
    assert len(model_endpoint.main_requests(api)) == 2, model_endpoint.summary()
    assert "phase_decision" in run.stdout

"""`animus agent run` and the agents/procs run glue driving the REAL agent CLIs against the scripted endpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from animus import procs
from animus.agents import AgentProfile, SessionPlan, read_run, start_agent_run
from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import API_OF, MODELS, isolated_env, require_cli

pytestmark = pytest.mark.realcli
KEY_ENV = "ANIMUS_TEST_API_KEY"


def _repo(tmp_path: Path) -> Path:
    cwd = tmp_path / "repo"
    cwd.mkdir()
    subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    return cwd


def _base_url(tool: str, ep: ModelEndpoint) -> str:
    # Codex appends /responses to its provider base_url (as for https://api.openai.com/v1); the
    # Anthropic and Gemini clients add their own /v1/... and /v1beta/... paths.
    return ep.url + "/v1" if tool == "codex" else ep.url


def _env(tool: str, tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path, ANIMUS_HOME=str(tmp_path / "animus-home"), **{KEY_ENV: "test-key"})
    env["PATH"] = f"{require_cli(tool).parent}:{env['PATH']}"
    return env


def _animus() -> list[str]:
    script = shutil.which("animus", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-c", "from animus.cli.main import main; main()"]


def animus(tool: str, tmp_path: Path, cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Any `animus` command as a subprocess, in `cwd`, with the env `tool` needs."""
    try:
        return subprocess.run(
            [*_animus(), *args],
            cwd=cwd,
            env=_env(tool, tmp_path),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"animus {' '.join(args[:2])} --tool {tool} did not finish: {exc}")


def animus_agent_run(
    tool: str,
    ep: ModelEndpoint,
    tmp_path: Path,
    cwd: Path,
    *extra: str,
    timeout: float = 90,
    prompt: str = "Create hello.txt containing hi.",
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """`animus agent run --tool T --json` as a subprocess: exit code, JSONL events, final summary."""
    proc = animus(tool, tmp_path, cwd, *_run_args(tool, ep, prompt, timeout), *extra, timeout=timeout + 30)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summaries = [e for e in events if e.get("kind") == "summary"]
    assert summaries, f"no summary line; exit={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.returncode, events, summaries[-1]


def _run_args(tool: str, ep: ModelEndpoint, prompt: str, timeout: float) -> list[str]:
    return [
        "agent",
        "run",
        "--tool",
        tool,
        "--prompt",
        prompt,
        "--json",
        "--model",
        MODELS[tool],
        "--base-url",
        _base_url(tool, ep),
        "--api-key-env",
        KEY_ENV,
        "--timeout",
        str(int(timeout)),
    ]


def _stderr_logs(tmp_path: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")[-1500:] for p in (tmp_path / "animus-home").glob("*/runs/*/stderr.log")
    )


def _write_turn(tool: str) -> Turn:
    if tool == "claude":
        return Turn.tool("Write", {"file_path": "hello.txt", "content": "hi\n"})
    if tool == "codex":
        return Turn.tool("exec_command", {"cmd": "printf 'hi\\n' > hello.txt"})
    return Turn.tool("write_file", {"file_path": "hello.txt", "content": "hi\n"})


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_agent_run_real_cli_writes_file_and_reports_tokens_and_verdict(
    tool: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    model_endpoint.script(API_OF[tool], [_write_turn(tool), Turn.final("advance", input_tokens=200, output_tokens=40)])
    code, events, summary = animus_agent_run(tool, model_endpoint, tmp_path, cwd)

    detail = f"{summary}\nendpoint: {model_endpoint.summary()}\nagent stderr:\n{_stderr_logs(tmp_path)}"
    assert (code, summary["status"]) == (0, "ok"), detail
    assert (cwd / "hello.txt").read_text() == "hi\n"
    assert summary["verdict"] == "advance"
    assert (summary["input_tokens"], summary["output_tokens"]) == (120 + 200, 30 + 40), detail
    assert summary["session_id"]
    assert any(e["kind"] == "tool_call" for e in events)
    if tool == "claude":
        # Claude Code prices the run itself (sonnet-4.5 list prices: $3 / $15 per MTok).
        assert summary["cost_usd"] == pytest.approx(320 * 3e-6 + 70 * 15e-6)
    prompt_seen = json.dumps(model_endpoint.main_requests(API_OF[tool])[0].body)
    assert "phase_decision" in prompt_seen  # the decision instruction reached the model


def test_agent_run_claude_bad_credentials_is_a_failure_not_success(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    model_endpoint.script("anthropic", [Turn.unauthorized()])
    # Claude Code would retry the 401 ten times with backoff (minutes) without this.
    code, _, summary = animus_agent_run("claude", model_endpoint, tmp_path, cwd, "--env", "CLAUDE_CODE_MAX_RETRIES=0")

    assert summary["status"] == "failed", summary
    assert code == 1 and summary["exit_code"] == 1
    assert "401" in summary["reason"] and "api_error" in summary["reason"], summary
    assert len(model_endpoint.main_requests("anthropic")) == 1


def test_agent_run_claude_bad_credentials_fails_after_the_capped_cli_retries(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    # animus sets CLAUDE_CODE_MAX_RETRIES=2: one request plus two retries, not ten retries over minutes.
    cwd = _repo(tmp_path)
    model_endpoint.script("anthropic", [Turn.unauthorized(repeat=0)])
    code, events, summary = animus_agent_run("claude", model_endpoint, tmp_path, cwd, timeout=60)

    assert (code, summary["status"]) == (1, "failed"), summary
    assert "401" in summary["reason"], summary
    assert len(model_endpoint.main_requests("anthropic")) == 3, model_endpoint.summary()
    assert sum(1 for e in events if e["kind"] == "error" and "API retry" in e["message"]) == 2


@pytest.mark.parametrize(
    ("tool", "reset_in"),
    [("claude", 3600), ("codex", 3600), ("codex", 3 * 86400)],
    ids=["claude", "codex-today", "codex-later-day"],
)
def test_agent_run_http_429_is_rate_limited_with_reset_and_no_busy_retry(
    tool: str, reset_in: int, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    cwd = _repo(tmp_path)
    reset = int(time.time()) + reset_in
    model_endpoint.script(API_OF[tool], [Turn.rate_limit(retry_after=reset_in, reset_epoch=reset)])
    code, _, summary = animus_agent_run(tool, model_endpoint, tmp_path, cwd, timeout=60)

    assert len(model_endpoint.main_requests(API_OF[tool])) <= 2, model_endpoint.summary()
    assert code != 0
    assert summary["status"] == "rate_limited", summary
    if tool == "codex":
        # codex prints the reset at minute resolution in local time (TZ=UTC here)
        assert summary["resets_at"] is not None, summary
        assert abs(summary["resets_at"] - reset) < 60, (summary, datetime.fromtimestamp(reset, UTC))


def _cli_data(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout)["data"]


def _wait_ended(tool: str, tmp_path: Path, cwd: Path, run_id: str) -> dict[str, Any]:
    """`animus agent status RUN --json` once the run has ended."""
    for _ in range(150):
        status: dict[str, Any] = _cli_data(animus(tool, tmp_path, cwd, "agent", "status", run_id, "--json"))
        if status["status"] != "running":
            return status
        time.sleep(0.2)
    pytest.fail(f"run {run_id} still running after `animus agent stop`: {status}")


def _earlier_tool_result_was_sent(tool: str, body: dict[str, Any]) -> bool:
    if tool == "claude":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        return any(b.get("type") == "tool_result" for b in blocks)
    if tool == "codex":
        return any(i.get("type") == "function_call_output" for i in body["input"])
    return any("functionResponse" in p for c in body["contents"] for p in c.get("parts", []))


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini"])
def test_agent_run_resume_flag_continues_a_stopped_run_with_its_earlier_conversation(
    tool: str, tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    # All through the CLI: run --detach, agent stop, agent status (for the session), run --resume.
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    model_endpoint.script(api, [_write_turn(tool), Turn.hang("Checking the file")])
    run_args = _run_args(tool, model_endpoint, "Create hello.txt.", 90)
    _cli_data(animus(tool, tmp_path, cwd, *run_args, "--detach", "--run-id", "first"))
    try:
        model_endpoint.wait_for(lambda r: r.answered_with == "fault:hang", timeout=60)
        time.sleep(0.3)  # the tool step's lines reach stdout.log
    finally:
        _cli_data(animus(tool, tmp_path, cwd, "agent", "stop", "first", "--grace", "0.5", "--json"))
    status = _wait_ended(tool, tmp_path, cwd, "first")
    assert status["exit"]["reason"] == "stopped", status
    assert status["outcome"]["status"] != "ok", status
    session = status["outcome"]["session_id"]
    assert session, status
    assert (cwd / "hello.txt").read_text() == "hi\n"

    model_endpoint.script(api, [Turn.final("advance")])
    code, _, summary = animus_agent_run(
        tool, model_endpoint, tmp_path, cwd, "--resume", session, prompt="Continue where you stopped."
    )
    assert (code, summary["status"], summary["verdict"]) == (0, "ok", "advance"), (summary, model_endpoint.summary())
    assert summary["session_id"] == session
    resumed = model_endpoint.main_requests(api)[-1].body
    assert _earlier_tool_result_was_sent(tool, resumed), resumed
    assert "Create hello.txt." in json.dumps(resumed)  # the first prompt is part of the resumed conversation
    assert "Continue where you stopped." in json.dumps(resumed)


def test_stopped_claude_run_resumed_in_process_with_its_session_sends_the_earlier_conversation(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    # The library path the engine takes: start_agent_run with SessionPlan.resume_of.
    tool = "claude"
    cwd = _repo(tmp_path)
    api = API_OF[tool]
    env = _env(tool, tmp_path)
    profile = AgentProfile(
        tool=tool,
        model=MODELS[tool],
        base_url=_base_url(tool, model_endpoint),
        api_key_env=KEY_ENV,
        timeout_secs=90,
        idle_timeout_secs=90,
    )
    runs, state = tmp_path / "runs", tmp_path / "state"
    model_endpoint.script(api, [_write_turn(tool), Turn.hang("Checking the file")])
    first = start_agent_run(
        profile,
        "Create hello.txt.",
        cwd=cwd,
        runs_dir=runs,
        state_dir=state,
        run_id="first",
        environ=env,
        grace_secs=0.5,
    )
    try:
        model_endpoint.wait_for(lambda r: r.answered_with == "fault:hang", timeout=60)
        time.sleep(0.3)  # the tool step's lines reach stdout.log
    finally:
        procs.stop("first", runs, grace=0.5)
    exit_record = first.wait(timeout=30)
    assert exit_record.reason == "stopped"
    killed = read_run("first", runs)
    assert killed.outcome is not None and killed.outcome.status != "ok"
    session = killed.outcome.session_id
    assert session, killed.to_dict()
    assert (cwd / "hello.txt").exists()

    model_endpoint.script(api, [Turn.final("advance")])
    second = start_agent_run(
        profile,
        "Continue where you stopped.",
        cwd=cwd,
        runs_dir=runs,
        state_dir=state,
        run_id="second",
        session=SessionPlan.resume_of(session),
        environ=env,
    )
    second.wait(timeout=60)
    view = read_run("second", runs)
    assert view.outcome is not None and view.outcome.status == "ok", (view.to_dict(), model_endpoint.summary())
    assert view.outcome.session_id == session
    resumed = model_endpoint.main_requests(api)[-1].body
    assert _earlier_tool_result_was_sent(tool, resumed), resumed
    assert "Create hello.txt." in json.dumps(resumed)  # the first prompt is part of the resumed conversation

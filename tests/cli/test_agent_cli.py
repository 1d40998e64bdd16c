"""`animus agent run|status|stop|list` and `animus logs` against the fake agent CLIs on PATH."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.fakes import fake_cli_env

SECRET = "sekrit-123456"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return fake_cli_env(tmp_path, drop_prefixes=("ANIMUS_", "FOO_"), FOO_API_KEY=SECRET)


def animus(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "animus.cli.main", *args], cwd=env["REPO"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def script(env: dict[str, str], steps: object) -> str:
    path = Path(env["REPO"]).parent / f"script-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(steps))
    return str(path)


def test_agent_run_against_fake_claude_prints_a_summary_and_exits_0(env: dict[str, str]) -> None:
    proc = animus(env, "agent", "run", "--tool", "claude", "--prompt", "hi", check=True)
    out = proc.stdout
    assert "outcome: ok" in out and "verdict: advance" in out
    assert "tokens: 1200 in / 85 out" in out and "cost: $0.0123" in out
    assert "→ Bash" in out and "● session" in out
    run_id = out.strip().splitlines()[-1].removeprefix("run: ")
    assert run_id.startswith("run-")


def test_agent_run_json_streams_events_and_ends_with_a_summary(env: dict[str, str]) -> None:
    proc = animus(env, "agent", "run", "--tool", "claude", "--prompt", "hi", "--json", check=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds[0] == "session" and "tool_call" in kinds and kinds[-1] == "summary"
    summary = lines[-1]
    assert summary["status"] == "ok" and summary["verdict"] == "advance"
    assert (summary["input_tokens"], summary["output_tokens"], summary["cost_usd"]) == (1200, 85, 0.0123)
    assert all(line["run_id"] == summary["run_id"] for line in lines)


def test_a_failed_agent_exits_1_with_the_reason(env: dict[str, str]) -> None:
    steps = script(env, [{"text": "hmm"}, "api_error_as_success"])
    proc = animus(env, "agent", "run", "--tool", "claude", "--prompt", "hi", "--env", f"ANIMUS_FAKE_SCRIPT={steps}")
    assert proc.returncode == 1
    assert "outcome: failed" in proc.stdout and "api_error" in proc.stdout


def test_detach_then_status_logs_and_raw_logs(env: dict[str, str]) -> None:
    steps = script(env, [{"text": "working"}, {"sleep": 0.3}, {"decision": {"verdict": "rework", "reason": "more"}}])
    proc = animus(env, "agent", "run", "--tool", "codex", "--prompt", "hi", "--detach", "--json",
                  "--env", f"ANIMUS_FAKE_SCRIPT={steps}", check=True)
    run_id = json.loads(proc.stdout)["data"]["run_id"]
    followed = animus(env, "logs", run_id, "--follow", check=True).stdout
    assert "working" in followed and "■ result ok" in followed
    status = json.loads(animus(env, "agent", "status", run_id, "--json", check=True).stdout)["data"]
    assert status["status"] == "finished" and status["tool"] == "codex"
    assert status["outcome"]["status"] == "ok" and status["outcome"]["decision"]["verdict"] == "rework"
    assert status["exit"]["exit_code"] == 0 and status["pid"]["agent_pid"] > 0
    human = animus(env, "agent", "status", run_id, check=True).stdout
    assert "verdict: rework" in human and "finished" in human
    raw = animus(env, "logs", run_id, "--raw", check=True).stdout
    assert raw.splitlines()[0].startswith('{"type":"thread.started"')
    listed = json.loads(animus(env, "agent", "list", "--json", check=True).stdout)["data"]
    assert [r["run_id"] for r in listed] == [run_id]


def test_detached_run_can_be_stopped(env: dict[str, str]) -> None:
    steps = script(env, [{"text": "about to hang"}, "hang"])
    run_id = animus(env, "agent", "run", "--tool", "claude", "--prompt", "hi", "--detach",
                    "--env", f"ANIMUS_FAKE_SCRIPT={steps}", check=True).stdout.strip()
    stopped = json.loads(animus(env, "agent", "stop", run_id, "--grace", "0.3", "--json", check=True).stdout)
    assert stopped["data"]["exit"]["reason"] == "stopped"
    status = json.loads(animus(env, "agent", "status", run_id, "--json", check=True).stdout)["data"]
    assert status["outcome"]["status"] == "killed"


@pytest.mark.parametrize("command", [["agent", "status"], ["agent", "stop"], ["logs"]])
def test_unknown_run_exits_3(env: dict[str, str], command: list[str]) -> None:
    proc = animus(env, *command, "run-does-not-exist")
    assert proc.returncode == 3, proc.stderr


def test_secret_printed_by_the_agent_never_appears_in_animus_output(env: dict[str, str]) -> None:
    steps = script(env, [{"print_env": {"names": ["FOO_API_KEY"]}}, {"decision": {"verdict": "advance"}}])
    proc = animus(env, "agent", "run", "--tool", "claude", "--prompt", "hi", "--env", f"ANIMUS_FAKE_SCRIPT={steps}",
                  "--env", f"FOO_API_KEY={SECRET}", check=True)
    assert "FOO_API_KEY=***" in proc.stdout and SECRET not in proc.stdout
    run_id = proc.stdout.strip().splitlines()[-1].removeprefix("run: ")
    runs = list((Path(env["ANIMUS_HOME"])).glob(f"*/runs/{run_id}/stdout.log"))
    assert SECRET in runs[0].read_text()  # the agent really printed it
    for args in (["logs", run_id], ["logs", run_id, "--raw"], ["logs", run_id, "--json"]):
        out = animus(env, *args, check=True).stdout
        assert SECRET not in out and "FOO_API_KEY=***" in out, args
    assert SECRET not in animus(env, "agent", "status", run_id, "--json", check=True).stdout


def test_tool_and_agent_are_mutually_exclusive_and_unknown_agent_is_reported(env: dict[str, str]) -> None:
    assert animus(env, "agent", "run", "--prompt", "hi").returncode == 2
    assert animus(env, "agent", "run", "--tool", "claude", "--agent", "x", "--prompt", "hi").returncode == 2
    assert animus(env, "agent", "run", "--agent", "nobody", "--prompt", "hi").returncode == 3


def test_every_agent_command_has_help_with_an_example(env: dict[str, str]) -> None:
    for args in (["agent"], ["agent", "run"], ["agent", "status"], ["agent", "stop"], ["agent", "list"], ["logs"]):
        out = animus(env, *args, "--help", check=True).stdout
        assert "Examples:" in out, args

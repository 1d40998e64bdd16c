"""The Cursor CLI adapter: its documented stream-json lines, `is_error` results, a crash mid-tool, argv, and runs.

cursor-agent is not in any package registry, so every run here uses the fake `cursor-agent` (animus.agents.fake),
which prints the lines Cursor documents for `--output-format stream-json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from animus.agents import AgentProfile, Decision, SessionPlan, get_adapter, read_run, start_agent_run
from animus.agents.fake import install_fake_clis
from animus.domain.errors import InvalidInput
from support.engine import drive, make_project, outcome_of
from support.fakes import fake_cli_env
from support.repo import git

SID = "c6b62c6f-7ead-4fd6-9922-e952131177ff"
# The documented line shapes (https://cursor.com/docs/cli/reference/output-format), one of each kind.
DOCUMENTED = [
    {"type": "system", "subtype": "init", "apiKeySource": "login", "cwd": "/w", "session_id": SID,
     "model": "Claude 4 Sonnet", "permissionMode": "default"},
    {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "add a file"}]}, "session_id": SID},
    {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": "I'll write it."}]},
     "session_id": SID},
    {"type": "tool_call", "subtype": "started", "call_id": "toolu_1",
     "tool_call": {"writeToolCall": {"args": {"path": "a.txt", "fileText": "hi\n"}}}, "session_id": SID},
    {"type": "tool_call", "subtype": "completed", "call_id": "toolu_1",
     "tool_call": {"writeToolCall": {"args": {"path": "a.txt", "fileText": "hi\n"},
                                     "result": {"success": {"path": "/w/a.txt", "linesCreated": 1, "fileSize": 3}}}},
     "session_id": SID},
    {"type": "tool_call", "subtype": "started", "call_id": "toolu_2",
     "tool_call": {"function": {"name": "mcp_lookup", "arguments": "{\"q\": \"x\"}"}}, "session_id": SID},
    {"type": "tool_call", "subtype": "completed", "call_id": "toolu_2",
     "tool_call": {"function": {"name": "mcp_lookup", "arguments": "{\"q\": \"x\"}",
                                "result": {"error": {"errorMessage": "no such server"}}}}, "session_id": SID},
    {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": " Done.\n"
     '{"kind":"phase_decision","verdict":"advance","confidence":0.9,"risk":"low","reason":"wrote a.txt"}'}]},
     "session_id": SID},
]
FINAL = "I'll write it. Done.\n" + json.dumps(
    {"kind": "phase_decision", "verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"},
    separators=(",", ":"))


def result_line(*, is_error: bool, text: str, subtype: str | None = None) -> dict[str, object]:
    return {"type": "result", "subtype": subtype or ("error" if is_error else "success"), "duration_ms": 5123,
            "duration_api_ms": 5100, "is_error": is_error, "result": text, "session_id": SID, "request_id": "r-1"}


def classify(lines: list[dict[str, object]], exit_code: int | None, signal: int | None = None):  # type: ignore[no-untyped-def]
    adapter = get_adapter("cursor")
    events = adapter.parse_lines([json.dumps(line).encode() + b"\n" for line in lines])
    return adapter.classify(events, exit_code, signal, exit_reason="exited"), [e.to_dict() for e in events]


def test_the_documented_lines_give_session_tool_pairs_final_text_and_verdict_but_no_tokens() -> None:
    outcome, events = classify([*DOCUMENTED, result_line(is_error=False, text=FINAL)], 0)
    assert outcome.status == "ok", outcome.reason
    assert (outcome.session_id, outcome.model) == (SID, "Claude 4 Sonnet")
    assert outcome.final_text == FINAL
    assert isinstance(outcome.decision, Decision) and outcome.decision.verdict == "advance"
    assert (outcome.input_tokens, outcome.output_tokens, outcome.cost_usd) == (0, 0, None)
    calls = [(e["id"], e["name"]) for e in events if e["kind"] == "tool_call"]
    assert calls == [("toolu_1", "write"), ("toolu_2", "mcp_lookup")]
    assert [(e["id"], e["ok"]) for e in events if e["kind"] == "tool_result"] == [("toolu_1", True), ("toolu_2", False)]
    assert "no such server" in str([e for e in events if e["kind"] == "tool_result"][1]["output"])
    assert "raw" not in [e["kind"] for e in events]
    assert not [e for e in events if e["kind"] == "text" and "add a file" in str(e["text"])]  # the echoed prompt


def test_an_is_error_result_fails_the_run_even_with_exit_0() -> None:
    outcome, _ = classify([DOCUMENTED[0], result_line(is_error=True, text="Model call failed: server error")], 0)
    assert outcome.status == "failed"
    assert "Model call failed" in outcome.reason


def test_an_is_error_result_naming_a_usage_limit_is_rate_limited() -> None:
    outcome, _ = classify([DOCUMENTED[0], result_line(is_error=True, text="You've hit your usage limit")], 1)
    assert outcome.status == "rate_limited", outcome.reason


def test_a_crash_mid_tool_has_no_result_and_fails() -> None:
    outcome, _ = classify(DOCUMENTED[:4], 1)
    assert outcome.status == "failed" and "status 1" in outcome.reason
    killed, _ = classify(DOCUMENTED[:4], None, 9)
    assert killed.status == "failed" and "signal 9" in killed.reason
    cut, _ = classify(DOCUMENTED[:4], 0)
    assert cut.status == "failed" and "without a result" in cut.reason


def build(tmp_path: Path, session: SessionPlan | None = None, **fields: object) -> list[str]:
    profile = AgentProfile(tool="cursor", **fields)  # type: ignore[arg-type]
    inv = get_adapter("cursor").build_invocation(profile, "do it", cwd=tmp_path, session=session, state_dir=tmp_path,
                                                 environ={"CUR_KEY": "k-1"})
    return inv.argv


def test_argv_forces_writes_resumes_and_plans_when_read_only(tmp_path: Path) -> None:
    assert build(tmp_path, model="gpt-5") == [
        "cursor-agent", "-p", "--output-format", "stream-json", "--force", "--model", "gpt-5", "do it"]
    assert build(tmp_path, SessionPlan.resume_of(SID))[-3:] == ["--resume", SID, "do it"]
    read_only = build(tmp_path, read_only=True)
    assert read_only[4:6] == ["--mode", "plan"] and "--force" not in read_only
    profile = AgentProfile(tool="cursor", api_key_env="CUR_KEY")
    inv = get_adapter("cursor").build_invocation(profile, "x", cwd=tmp_path, state_dir=tmp_path, environ={"CUR_KEY": "k"})
    assert inv.env_extra["CURSOR_API_KEY"] == "k" and "k" not in inv.argv
    with pytest.raises(InvalidInput, match="base_url"):
        build(tmp_path, base_url="http://127.0.0.1:1/v1")


# -- through the supervisor, `animus agent run` and a workflow ---------------------------------------------------


def test_a_sigkill_mid_tool_through_the_supervisor_is_a_failure_with_one_open_tool_call(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "running the tests"}, "sigkill_between_tool_use_and_result"]))
    environ = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    profile = AgentProfile(tool="cursor", env={"ANIMUS_FAKE_SCRIPT": str(script)}, timeout_secs=60)
    handle = start_agent_run(profile, "do it", cwd=tmp_path, runs_dir=tmp_path / "runs", state_dir=tmp_path / "state",
                             environ=environ)
    handle.wait(timeout=60)
    view = read_run(handle.run_id, tmp_path / "runs")
    assert view.outcome is not None and view.outcome.status == "failed", view.outcome
    assert "signal 9" in view.outcome.reason
    kinds = [e.kind for e in view.events]
    assert kinds.count("tool_call") == 1 and "tool_result" not in kinds and "result" not in kinds


def animus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "animus.cli.main", *args], cwd=env["REPO"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def test_animus_agent_run_tool_cursor_writes_a_file_and_an_is_error_result_exits_1(tmp_path: Path) -> None:
    env = fake_cli_env(tmp_path)
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"write": {"path": "hello.txt", "content": "hi\n"}}, {"decision": {"verdict": "advance"}}]))
    proc = animus(env, "agent", "run", "--tool", "cursor", "--prompt", "write hello", "--json",
                  "--env", f"ANIMUS_FAKE_SCRIPT={good}")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = lines[-1]
    assert summary["status"] == "ok" and summary["verdict"] == "advance" and summary["session_id"]
    assert [line["name"] for line in lines if line["kind"] == "tool_call"] == ["write"]
    assert (Path(env["REPO"]) / "hello.txt").read_text() == "hi\n"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"text": "trying"}, "api_error_as_success"]))
    proc = animus(env, "agent", "run", "--tool", "cursor", "--prompt", "again", "--env", f"ANIMUS_FAKE_SCRIPT={bad}")
    assert proc.returncode == 1
    assert "outcome: failed" in proc.stdout and "API Error: 400" in proc.stdout
    raw = animus(env, "logs", proc.stdout.strip().splitlines()[-1].removeprefix("run: "), "--raw").stdout
    assert '"is_error": true' in raw or '"is_error":true' in raw


def test_a_workflow_runs_cursor_for_implementation_and_review(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    scripts = {
        "impl": [{"write": {"path": "a.txt", "content": "from cursor\n"}},
                 {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"}}],
        "reviewer": [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}],
    }
    for name, steps in scripts.items():
        path = project.repo / ".animus" / f"{name}-cursor.json"
        path.write_text(json.dumps(steps))
        script_line = ".animus/impl.json\n    max_attempts: 2\n" if name == "impl" else ".animus/review.json\n"
        old = f"  {name}:\n    tool: scripted\n    script: {script_line}    env: {{ANIMUS_FAKE_LEDGER: \"{project.ledger}\"}}\n"
        assert old in text, name
        text = text.replace(old, f"  {name}:\n    tool: cursor\n    animus_mcp: false\n    max_attempts: 1\n"
                                 f'    env: {{ANIMUS_FAKE_SCRIPT: "{path}", ANIMUS_FAKE_LEDGER: "{project.ledger}"}}\n')
    config.write_text(text)
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "agents on cursor")
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)

    assert drive(project, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}).exits == [0]
    result = outcome_of(project)
    assert result["run_status"] == "completed", result
    assert "a.txt" in result["files_on_main"]
    assert [d[3] for d in result["decisions"] if d[2] == "agent"] == ["advance", "advance"]
    spawns = [s for s in project.spawns() if s["as"] == "cursor"]
    assert len(spawns) == 2 and all(s["argv"][0] == "cursor-agent" and "--force" in s["argv"] for s in spawns)

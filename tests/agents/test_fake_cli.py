"""The fake agent CLIs print each real CLI's shapes: their output round-trips through the adapters."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from animus.agents import Decision, NoDecision, Outcome, get_adapter
from animus.agents.fake import FAKE_TOOLS, install_fake_clis

ARGS = {
    "claude": ["-p", "do it", "--output-format", "stream-json", "--verbose", "--allowedTools", "Read", "Edit",
               "--permission-mode", "acceptEdits"],
    "codex": ["exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check", "do it"],
    "gemini": ["-p", "do it", "--output-format", "stream-json", "--approval-mode", "yolo"],
    "opencode": ["run", "--format", "json", "do it"],
    "aider": ["--message", "do it", "--yes-always", "--no-auto-commits"],
    "cursor": ["-p", "--output-format", "stream-json", "--force", "do it"],
}
RESUME = {
    "claude": ["-p", "again", "--output-format", "stream-json", "--verbose", "--resume", "S-1"],
    "codex": ["exec", "--json", "resume", "S-1", "again"],
    "gemini": ["-p", "again", "--output-format", "stream-json", "--resume", "S-1"],
    "opencode": ["run", "--format", "json", "--session", "S-1", "again"],
    "cursor": ["-p", "--output-format", "stream-json", "--resume", "S-1", "again"],
}
PROGRAM = {"cursor": "cursor-agent"}  # the program a tool's fake is installed as, when not the tool's name


@pytest.fixture(scope="module")
def fake_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = tmp_path_factory.mktemp("bin")
    install_fake_clis(bin_dir)
    return bin_dir


def run_fake(
    bin_dir: Path, tool: str, cwd: Path, steps: object = None, args: list[str] | None = None, **env: str
) -> tuple[Outcome, list[dict[str, object]], subprocess.CompletedProcess[bytes]]:
    full_env = {**os.environ, **env}
    full_env.pop("ANIMUS_FAKE_SCRIPT", None)
    if steps is not None:
        script = cwd / f"script-{tool}.json"
        script.write_text(json.dumps(steps))
        full_env["ANIMUS_FAKE_SCRIPT"] = str(script)
    proc = subprocess.run([str(bin_dir / PROGRAM.get(tool, tool)), *(args or ARGS[tool])], cwd=cwd, env=full_env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    adapter = get_adapter(tool)
    events = adapter.parse_lines(proc.stdout.splitlines(keepends=True))
    code = proc.returncode if proc.returncode >= 0 else None
    sig = -proc.returncode if proc.returncode < 0 else None
    return adapter.classify(events, code, sig), [e.to_dict() for e in events], proc


@pytest.mark.parametrize("tool", FAKE_TOOLS)
def test_default_demo_session_round_trips_ok_with_an_advance_decision(fake_bin: Path, tmp_path: Path, tool: str) -> None:
    outcome, events, proc = run_fake(fake_bin, tool, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert outcome.status == "ok", outcome.reason
    assert isinstance(outcome.decision, Decision) and outcome.decision.verdict == "advance"
    if tool == "cursor":  # cursor-agent reports no token usage
        assert (outcome.input_tokens, outcome.output_tokens, outcome.cost_usd) == (0, 0, None)
    else:
        assert outcome.input_tokens == 1200 and outcome.output_tokens == 85
    kinds = [e["kind"] for e in events]
    assert "raw" not in kinds
    if tool != "aider":
        assert outcome.session_id
        assert "tool_call" in kinds and "tool_result" in kinds
    if tool in ("claude", "opencode", "aider"):
        assert outcome.cost_usd == pytest.approx(0.0123)


@pytest.mark.parametrize("tool", FAKE_TOOLS)
def test_write_and_edit_steps_really_change_files_and_print_tool_pairs(
    fake_bin: Path, tmp_path: Path, tool: str
) -> None:
    steps = [
        {"write": {"path": "src/hello.py", "content": "print('hi')\n"}},
        {"edit": {"path": "src/hello.py", "old": "hi", "new": "hello"}},
        {"edit": {"path": "src/hello.py", "old": "absent", "new": "x"}},
        {"decision": {"verdict": "rework", "confidence": 0.4, "risk": "high", "reason": "needs tests"}},
    ]
    outcome, events, _ = run_fake(fake_bin, tool, tmp_path, steps)
    assert (tmp_path / "src/hello.py").read_text() == "print('hello')\n"
    assert isinstance(outcome.decision, Decision) and outcome.decision.verdict == "rework"
    if tool != "aider":
        results = [e for e in events if e["kind"] == "tool_result"]
        assert [r["ok"] for r in results] == [True, True, False]


def test_claude_persona_uses_the_given_session_id_and_realistic_ids(fake_bin: Path, tmp_path: Path) -> None:
    sid = "0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b"
    outcome, events, proc = run_fake(fake_bin, "claude", tmp_path, args=[*ARGS["claude"], "--session-id", sid])
    assert outcome.session_id == sid
    call = next(e for e in events if e["kind"] == "tool_call")
    assert str(call["id"]).startswith("toolu_01") and call["name"] == "Bash"
    assert b'"id":"msg_01' in proc.stdout


@pytest.mark.parametrize(
    ("tool", "step", "status", "words"),
    [
        ("claude", "api_error_as_success", "failed", "api_error"),
        ("codex", "turn_failed_exit0", "failed", "404 Not Found"),
        ("gemini", "gemini_error_then_success", "failed", "Maximum session turns"),
        ("claude", {"rate_limit": {"resets_at": 1787520600}}, "rate_limited", "rate limited"),
        ("codex", {"rate_limit": {"resets_at": 1787520600}}, "rate_limited", "rate limited"),
        ("gemini", "rate_limit", "rate_limited", "quota"),
        ("opencode", "rate_limit", "rate_limited", "Rate limit"),
        ("aider", "rate_limit", "rate_limited", "RateLimitError"),
        ("claude", {"crash": {"code": 3}}, "failed", "status 3"),
        ("codex", {"crash": {"code": 3}}, "failed", "status 3"),
        ("gemini", {"exit": {"code": 53}}, "failed", "turn limit"),
        ("opencode", {"crash": {"code": 1}}, "failed", "status 1"),
        ("cursor", "rate_limit", "rate_limited", "usage limit"),
        ("cursor", {"crash": {"code": 1}}, "failed", "status 1"),
    ],
)
def test_failure_modes_produce_the_right_outcome(
    fake_bin: Path, tmp_path: Path, tool: str, step: object, status: str, words: str
) -> None:
    outcome, _, _ = run_fake(fake_bin, tool, tmp_path, [{"text": "starting"}, step])
    assert outcome.status == status, outcome.reason
    assert words.lower() in outcome.reason.lower()
    if isinstance(step, dict) and "rate_limit" in step and tool in ("claude", "codex"):
        assert outcome.resets_at is not None and abs(outcome.resets_at - 1787520600) < 60


@pytest.mark.parametrize("tool", FAKE_TOOLS)
def test_malformed_decision_gives_a_typed_no_decision(fake_bin: Path, tmp_path: Path, tool: str) -> None:
    outcome, _, _ = run_fake(fake_bin, tool, tmp_path, ["malformed_decision"])
    assert outcome.status == "ok"
    assert isinstance(outcome.decision, NoDecision) and "maybe" in outcome.decision.reason


def test_ledger_counts_one_line_per_spawn_and_invocations_are_consumed_in_order(
    fake_bin: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    script = {"invocations": [[{"crash": {"code": 7}}], [{"decision": {"verdict": "advance"}}]]}
    results = [run_fake(fake_bin, "claude", tmp_path, script, ANIMUS_FAKE_LEDGER=str(ledger))[0] for _ in range(3)]
    assert [o.status for o in results] == ["failed", "ok", "ok"]
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(lines) == 3
    assert {line["as"] for line in lines} == {"claude"} and all(line["cwd"] == str(tmp_path) for line in lines)
    assert lines[0]["argv"][0] == "claude" and "-p" in lines[0]["argv"]


@pytest.mark.parametrize("tool", sorted(RESUME))
def test_on_resume_steps_run_when_the_cli_is_asked_to_resume(fake_bin: Path, tmp_path: Path, tool: str) -> None:
    script = {"steps": [{"crash": {"code": 9}}], "on_resume": [{"decision": {"verdict": "skip", "reason": "done"}}]}
    first, _, _ = run_fake(fake_bin, tool, tmp_path, script)
    assert first.status == "failed"
    resumed, _, _ = run_fake(fake_bin, tool, tmp_path, script, args=RESUME[tool])
    assert resumed.status == "ok" and resumed.session_id == "S-1"
    assert isinstance(resumed.decision, Decision) and resumed.decision.verdict == "skip"


def test_persona_can_be_chosen_by_flag_or_env(tmp_path: Path) -> None:
    import sys

    proc = subprocess.run([sys.executable, "-m", "animus.agents.fake", "--as", "codex", "exec", "--json", "hi"],
                          cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=True)
    assert json.loads(proc.stdout.splitlines()[0])["type"] == "thread.started"
    env = {**os.environ, "ANIMUS_FAKE_AS": "gemini"}
    env.pop("ANIMUS_FAKE_SCRIPT", None)
    proc = subprocess.run([sys.executable, "-m", "animus.agents.fake", "-p", "hi"], cwd=tmp_path, env=env,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=True)
    assert json.loads(proc.stdout.splitlines()[0])["type"] == "init"

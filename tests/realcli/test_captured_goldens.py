"""The adapters read what the REAL CLIs printed (tests/realcli/captured/, refreshed by the realcli tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from animus.agents import get_adapter
from animus.agents._outcome import Outcome

CAPTURED = Path(__file__).parent / "captured"


def _outcome(name: str, exit_code: int | None, signal: int | None = None) -> tuple[Outcome, list[str]]:
    tool = name.split("-", 1)[0]
    adapter = get_adapter(tool)
    path = CAPTURED / f"{name}.txt" if tool == "aider" else CAPTURED / f"{name}.jsonl"  # aider prints plain text
    lines = path.read_bytes().splitlines(keepends=True)
    events = adapter.parse_lines(lines)
    kinds = [e.to_dict()["kind"] for e in events]
    return adapter.classify(events, exit_code, signal, exit_reason="exited" if signal is None else "stopped"), kinds


@pytest.mark.parametrize("name", ["claude-write", "codex-write", "gemini-write"])
def test_real_successful_turn_parses_to_ok_with_tokens_and_verdict(name: str) -> None:
    outcome, kinds = _outcome(name, 0)
    assert outcome.status == "ok", outcome
    assert (outcome.input_tokens, outcome.output_tokens) == (320, 70)
    assert outcome.decision.to_dict()["verdict"] == "advance"
    assert outcome.session_id
    assert "tool_call" in kinds and "tool_result" in kinds
    if name.startswith("claude"):
        assert outcome.cost_usd == pytest.approx(320 * 3e-6 + 70 * 15e-6)


def test_real_claude_401_result_with_success_subtype_is_a_failure() -> None:
    outcome, _ = _outcome("claude-401", 1)
    assert outcome.status == "failed" and "401" in outcome.reason


@pytest.mark.parametrize(
    ("name", "exit_code"), [("claude-429", 1), ("codex-429", 1), ("codex-429-later-day", 1), ("gemini-429", 173)]
)
def test_real_429_output_is_rate_limited(name: str, exit_code: int) -> None:
    outcome, _ = _outcome(name, exit_code)
    assert outcome.status == "rate_limited", outcome


@pytest.mark.parametrize("name", ["codex-429", "codex-429-later-day"])
def test_real_codex_usage_limit_text_gives_the_reset_time(name: str) -> None:
    # codex 0.171 prints "try again at 8:48 PM." when the reset is today, with the date otherwise.
    outcome, _ = _outcome(name, 1)
    text = (CAPTURED / f"{name}.jsonl").read_text()
    assert "try again at" in text
    assert outcome.resets_at is not None, outcome


@pytest.mark.parametrize("name", ["claude-killed", "codex-killed", "gemini-killed"])
def test_real_output_cut_by_sigkill_is_killed_and_keeps_the_session(name: str) -> None:
    outcome, kinds = _outcome(name, None, signal=9)
    assert outcome.status in ("killed", "failed"), outcome
    assert outcome.session_id
    assert "tool_call" in kinds


@pytest.mark.parametrize("name", ["claude-resume", "codex-resume", "gemini-resume"])
def test_real_resumed_turn_parses_to_ok_advance(name: str) -> None:
    outcome, _ = _outcome(name, 0)
    assert outcome.status == "ok" and outcome.decision.to_dict()["verdict"] == "advance", outcome


def test_every_captured_line_is_json() -> None:
    files = sorted(CAPTURED.glob("*.jsonl"))
    assert len(files) >= 14
    for path in files:
        for line in path.read_text().splitlines():
            json.loads(line)


@pytest.mark.parametrize("name", ["claude-cut", "codex-cut", "gemini-cut"])
def test_real_turn_retried_after_a_cut_stream_still_yields_the_verdict(name: str) -> None:
    # gemini keeps the partial text of the cut attempt in its stream ("Half a sent" + "Recovered.")
    outcome, _ = _outcome(name, 0)
    assert outcome.status == "ok" and outcome.decision.to_dict()["verdict"] == "advance", outcome


@pytest.mark.parametrize(("name", "tokens"), [("opencode-write", (320, 70)), ("aider-write", (200, 40))])
def test_real_opencode_and_aider_turns_parse_to_ok_with_tokens_and_verdict(name: str, tokens: tuple[int, int]) -> None:
    outcome, kinds = _outcome(name, 0)
    assert outcome.status == "ok", outcome
    assert (outcome.input_tokens, outcome.output_tokens) == tokens
    assert outcome.decision.to_dict()["verdict"] == "advance"
    assert "raw" not in kinds
    if name.startswith("opencode"):
        assert outcome.session_id and "tool_call" in kinds and "tool_result" in kinds


@pytest.mark.parametrize(("name", "exit_code"), [("opencode-429", 1), ("aider-429", 0)])
def test_real_opencode_and_aider_429_output_is_rate_limited(name: str, exit_code: int) -> None:
    # aider 0.86.2 exits 0 after giving up on its retries: its last lines are what says rate-limited
    outcome, _ = _outcome(name, exit_code)
    assert outcome.status == "rate_limited", outcome

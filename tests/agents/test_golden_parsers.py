"""Golden files: documented and captured CLI lines parse into the recorded normalized events and outcome.

Regenerate the .expected.json files (then review the diff!) with ANIMUS_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from animus.agents import get_adapter

GOLDEN = Path(__file__).parent / "golden"

# file → (tool, exit code of the process that printed it)
CASES: dict[str, tuple[str, int | None]] = {
    "claude-session.jsonl": ("claude", 0),
    "claude-modelusage.jsonl": ("claude", 0),
    "claude-api-error-as-success.jsonl": ("claude", 0),
    "claude-max-turns.jsonl": ("claude", 1),
    "claude-rate-limit.jsonl": ("claude", 0),
    "claude-partial-and-status.jsonl": ("claude", 0),
    "codex-documented.jsonl": ("codex", 0),
    "codex-0.149.jsonl": ("codex", 0),
    "codex-old-shape.jsonl": ("codex", 0),
    "codex-turn-failed-exit0.jsonl": ("codex", 0),
    "codex-usage-limit.jsonl": ("codex", 1),
    "gemini-snapshot.jsonl": ("gemini", 0),
    "gemini-error-then-success.jsonl": ("gemini", 0),
    "gemini-warning.jsonl": ("gemini", 0),
    "opencode-1.18.21.jsonl": ("opencode", 0),
    "opencode-cost.jsonl": ("opencode", 0),
    "opencode-error.jsonl": ("opencode", 1),
    "aider-session.txt": ("aider", 0),
    "garbage.bin": ("claude", 0),
}


def parse_case(name: str) -> dict[str, object]:
    tool, exit_code = CASES[name]
    adapter = get_adapter(tool)
    lines = (GOLDEN / name).read_bytes().splitlines(keepends=True)
    events = adapter.parse_lines(lines)
    outcome = adapter.classify(events, exit_code, None)
    return {
        "tool": tool,
        "exit_code": exit_code,
        "events": [e.to_dict() for e in events],
        "outcome": outcome.to_dict(),
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_file_parses_to_recorded_events_and_outcome(name: str) -> None:
    got = json.loads(json.dumps(parse_case(name)))
    expected_path = GOLDEN / (name.rsplit(".", 1)[0] + ".expected.json")
    if os.environ.get("ANIMUS_REGEN_GOLDEN"):
        expected_path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_path.read_text())


def outcome_of(name: str) -> dict[str, object]:
    out = parse_case(name)["outcome"]
    assert isinstance(out, dict)
    return out


def kinds_of(name: str) -> list[str]:
    return [str(e["kind"]) for e in parse_case(name)["events"]]  # type: ignore[union-attr,index]


def test_claude_success_session_tokens_and_cost_come_from_the_result_line() -> None:
    out = outcome_of("claude-session.jsonl")
    assert out["status"] == "ok"
    assert out["session_id"] == "e8889acf-5473-49e2-bd81-4896717df7c7"
    assert out["final_text"] == "Done."
    assert out["cost_usd"] == pytest.approx(0.19243785)
    assert out["input_tokens"] == 6 + 212 + 16827 and out["output_tokens"] == 5


def test_claude_model_usage_sums_every_model_including_hidden_haiku_calls() -> None:
    out = outcome_of("claude-modelusage.jsonl")
    assert out["status"] == "ok"
    assert out["input_tokens"] == 920 + 4 + 5015 + 2651
    assert out["output_tokens"] == 12 + 98
    assert out["cost_usd"] == pytest.approx(0.0324675)
    assert "error" in kinds_of("claude-modelusage.jsonl")  # api_retry is reported, not fatal


def test_claude_api_error_reported_as_success_subtype_is_a_failure() -> None:
    out = outcome_of("claude-api-error-as-success.jsonl")
    assert out["status"] == "failed"
    assert "api_error" in str(out["reason"]) and "400" in str(out["reason"])


def test_claude_error_max_turns_is_a_failure_with_the_errors_text() -> None:
    out = outcome_of("claude-max-turns.jsonl")
    assert out["status"] == "failed"
    assert "max_turns" in str(out["reason"]) and "Reached maximum number of turns" in str(out["reason"])
    assert out["final_text"] is None


def test_claude_rejected_rate_limit_event_makes_the_outcome_rate_limited_with_reset_time() -> None:
    out = outcome_of("claude-rate-limit.jsonl")
    assert out["status"] == "rate_limited"
    assert out["resets_at"] == 1787520600


def test_claude_hook_status_partial_and_compact_lines_are_raw_and_task_tool_is_a_tool_call() -> None:
    case = parse_case("claude-partial-and-status.jsonl")
    events = case["events"]
    assert isinstance(events, list)
    assert [e["kind"] for e in events[:2]] == ["session", "raw"]
    calls = [e for e in events if e["kind"] == "tool_call"]
    assert calls == [
        {"kind": "tool_call", "id": "toolu_01TaskAbCdEfGhIjKlMnOpQr", "name": "Task",
         "input": {"description": "find callers", "prompt": "grep for login()"}}
    ]
    assert [e for e in events if e["kind"] == "tool_result"][0]["output"] == "3 callers found"
    assert any(e["kind"] == "thinking" for e in events)
    out = case["outcome"]
    assert isinstance(out, dict)
    assert out["decision"]["verdict"] == "advance"  # type: ignore[index]


def test_codex_documented_stream_is_ok_with_last_agent_message_as_final_text() -> None:
    out = outcome_of("codex-documented.jsonl")
    assert out["status"] == "ok"
    assert out["session_id"] == "0199a213-81c0-7800-8aa1-bbab2a035a53"
    assert out["final_text"] == "Yep — there’s a `README.md` in the repository root."
    assert (out["input_tokens"], out["output_tokens"], out["cost_usd"]) == (24763, 122, None)
    assert kinds_of("codex-documented.jsonl").count("tool_call") == 1


def test_codex_0_149_in_progress_command_and_new_usage_fields_parse() -> None:
    out = outcome_of("codex-0.149.jsonl")
    assert out["status"] == "ok" and out["input_tokens"] == 31003 and out["output_tokens"] == 135


def test_codex_early_item_type_and_assistant_message_shape_is_understood() -> None:
    out = outcome_of("codex-old-shape.jsonl")
    assert out["status"] == "ok" and out["final_text"] == "Done: README updated."
    assert "thinking" in kinds_of("codex-old-shape.jsonl")


def test_codex_turn_failed_with_exit_zero_is_a_failure_and_reconnecting_is_noise() -> None:
    out = outcome_of("codex-turn-failed-exit0.jsonl")
    assert out["status"] == "failed"
    assert "404 Not Found" in str(out["reason"]) and "Reconnecting" not in str(out["reason"])


def test_codex_usage_limit_text_is_rate_limited_with_parsed_local_reset_time() -> None:
    from datetime import datetime

    out = outcome_of("codex-usage-limit.jsonl")
    assert out["status"] == "rate_limited"
    assert out["resets_at"] == int(datetime(2026, 4, 11, 14, 32).timestamp())


def test_gemini_snapshot_is_ok_with_concatenated_final_message() -> None:
    out = outcome_of("gemini-snapshot.jsonl")
    assert out["status"] == "ok" and out["session_id"] == "test-session-id"
    assert out["final_text"] == "Final answer"


def test_gemini_error_then_success_result_is_a_failure() -> None:
    out = outcome_of("gemini-error-then-success.jsonl")
    assert out["status"] == "failed" and "Maximum session turns exceeded" in str(out["reason"])


@pytest.mark.parametrize(("code", "words"), [(42, "input error"), (53, "turn limit")])
def test_gemini_exit_42_and_53_are_failures_even_with_a_success_result(code: int, words: str) -> None:
    adapter = get_adapter("gemini")
    events = adapter.parse_lines((GOLDEN / "gemini-snapshot.jsonl").read_bytes().splitlines())
    out = adapter.classify(events, code, None)
    assert out.status == "failed" and words in out.reason


def test_gemini_warning_is_not_fatal_and_a_decision_split_across_deltas_is_found() -> None:
    out = outcome_of("gemini-warning.jsonl")
    assert out["status"] == "ok"
    assert out["decision"]["verdict"] == "rework"  # type: ignore[index]


def test_opencode_without_done_event_is_ok_and_cost_is_the_sum_of_step_finish_costs() -> None:
    assert outcome_of("opencode-1.18.21.jsonl")["status"] == "ok"
    out = outcome_of("opencode-cost.jsonl")
    assert out["cost_usd"] == pytest.approx(0.0168)
    assert out["final_text"] == "NANOPY_EVENT_PROBE_20260823"
    assert out["session_id"] == "ses_fd1c15233ffeiwqf92JsdPfahU"


def test_opencode_error_event_fails_and_a_429_message_is_rate_limited() -> None:
    assert outcome_of("opencode-error.jsonl")["status"] == "rate_limited"


def test_aider_cost_line_variants_sum_tokens_and_cost() -> None:
    out = outcome_of("aider-session.txt")
    assert out["status"] == "ok"
    assert out["input_tokens"] == 2300 + 12000 + 1500 + 8200 + 950
    assert out["output_tokens"] == 120 + 310 + 42
    assert out["cost_usd"] == pytest.approx(0.0142)
    assert out["decision"]["verdict"] == "advance"  # type: ignore[index]


def test_garbage_lines_become_raw_events_and_crlf_json_still_parses() -> None:
    case = parse_case("garbage.bin")
    kinds = [e["kind"] for e in case["events"]]  # type: ignore[union-attr,index]
    assert kinds.count("raw") == 6
    assert case["outcome"]["final_text"] == "crlf ok"  # type: ignore[index]


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "opencode", "aider", "cursor", "command", "scripted"])
def test_every_adapter_survives_invalid_binary_truncated_and_16mb_lines(tool: str) -> None:
    adapter = get_adapter(tool)
    big = b'{"type":"assistant","message":{"content":[{"type":"text","text":"' + b"x" * (16 * 1024 * 1024) + b'"}]}}\n'
    lines = [*(GOLDEN / "garbage.bin").read_bytes().splitlines(keepends=True), big, big[:-100], b"\x00" * 10]
    state = adapter.new_state()
    for line in lines:
        for event in adapter.parse_line(line, state):
            json.dumps(event.to_dict())
    adapter.classify([], None, 9)

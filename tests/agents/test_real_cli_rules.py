"""Rules learned from the real CLIs (docs/real-clis.md): codex reset times, gemini quota, claude HTTP 429/401."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from animus.agents import AgentProfile, get_adapter, parse_reset_time, start_agent_run
from animus.agents._profile import SessionPlan
from animus.domain.errors import InvalidInput

# A fixed "now" in local time (codex prints reset clock times in the machine's local time).
NOW = datetime(2026, 11, 26, 19, 48, 30).timestamp()
USAGE = (
    "You{apos}ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
    "https://chatgpt.com/settings/usage to purchase more credits or try again at {when}."
)


def _local(*parts: int) -> int:
    return int(datetime(*parts).timestamp())  # type: ignore[arg-type]


@pytest.mark.parametrize("apostrophe", ["'", "\u2019"])
def test_codex_time_only_reset_later_today_is_today_in_local_time(apostrophe: str) -> None:
    message = USAGE.format(apos=apostrophe, when="8:48 PM")
    assert parse_reset_time(message, now=NOW) == _local(2026, 11, 26, 20, 48)


def test_codex_time_only_reset_already_past_today_is_tomorrow() -> None:
    message = USAGE.format(apos="\u2019", when="7:05 AM")
    expected = datetime(2026, 11, 26, 7, 5) + timedelta(days=1)
    assert parse_reset_time(message, now=NOW) == int(expected.timestamp())


@pytest.mark.parametrize(
    ("when", "hour", "minute"), [("12:00 AM", 0, 0), ("12:15 PM", 12, 15), ("11:59 PM", 23, 59), ("21:30", 21, 30)]
)
def test_codex_time_only_reset_reads_12_hour_edges_and_24_hour_clocks(when: str, hour: int, minute: int) -> None:
    got = parse_reset_time(f"try again at {when}.", now=NOW)
    today = datetime(2026, 11, 26, hour, minute)
    expected = today if today.timestamp() > NOW else today + timedelta(days=1)
    assert got == int(expected.timestamp())


def test_codex_dated_reset_still_wins_over_the_time_only_form() -> None:
    message = USAGE.format(apos="\u2019", when="Nov 29th, 2026 7:48 PM")
    assert parse_reset_time(message, now=NOW) == _local(2026, 11, 29, 19, 48)


@pytest.mark.parametrize(
    ("text", "secs"),
    [("try again in 5 minutes", 300), ("Please retry in 41.5s.", 41), ("try again in ~2 hours", 7200)],
)
def test_relative_resets_are_added_to_now(text: str, secs: int) -> None:
    assert parse_reset_time(text, now=1000.0) == 1000 + secs


@pytest.mark.parametrize("text", ["try again at 25:10 PM.", "try again later", "retry in 500ms", ""])
def test_text_without_a_usable_reset_gives_none(text: str) -> None:
    assert parse_reset_time(text, now=NOW) is None


def _classify(tool: str, lines: list[dict[str, object]], exit_code: int) -> dict[str, object]:
    adapter = get_adapter(tool)
    events = adapter.parse_lines([json.dumps(line).encode() for line in lines])
    return adapter.classify(events, exit_code, None, exit_reason="exited").to_dict()


def _codex_usage_limit(apostrophe: str, when: str) -> list[dict[str, object]]:
    message = USAGE.format(apos=apostrophe, when=when)
    return [
        {"type": "thread.started", "thread_id": "01a21967-2ab5-73d1-b29e-224bfbdf1dbc"},
        {"type": "turn.started"},
        {"type": "error", "message": message},
        {"type": "turn.failed", "error": {"message": message}},
    ]


@pytest.mark.parametrize("apostrophe", ["'", "\u2019"])
def test_codex_usage_limit_with_a_time_only_reset_is_rate_limited_with_that_reset(apostrophe: str) -> None:
    out = _classify("codex", _codex_usage_limit(apostrophe, "11:59 PM"), 1)
    assert out["status"] == "rate_limited" and out["exit_code"] == 1
    resets = out["resets_at"]
    assert isinstance(resets, int)
    assert datetime.fromtimestamp(resets).strftime("%H:%M") == "23:59"


def _gemini_quota(message: str) -> list[dict[str, object]]:
    # What gemini 0.61.0 printed for a 429 with a per-day QuotaFailure (tests/realcli/captured/gemini-429.jsonl).
    return [
        {"type": "init", "session_id": "e59f48b6-7e5c-4a3a-8338-1f6917ba3301", "model": "gemini-2.5-flash"},
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "result", "status": "error", "error": {"type": "unknown", "message": message}, "stats": {}},
    ]


@pytest.mark.parametrize(
    "message",
    [
        "[API Error: You have exhausted your daily quota on this model.]\nPlease wait and try again later.",
        "[API Error: got status: 429 Too Many Requests.]",
        "RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).",
    ],
)
def test_gemini_quota_result_with_exit_173_is_rate_limited_without_a_reset(message: str) -> None:
    out = _classify("gemini", _gemini_quota(message), 173)
    assert out["status"] == "rate_limited", out
    assert out["resets_at"] is None and out["session_id"] == "e59f48b6-7e5c-4a3a-8338-1f6917ba3301"
    assert message[:20] in str(out["reason"])


def test_gemini_quota_message_naming_a_delay_gives_the_reset() -> None:
    out = _classify("gemini", _gemini_quota("Quota exceeded for metric generate_requests. Please retry in 30s."), 173)
    assert out["status"] == "rate_limited" and isinstance(out["resets_at"], int)


def test_gemini_other_error_result_with_exit_1_is_a_failure_carrying_the_message() -> None:
    out = _classify("gemini", _gemini_quota("[API Error: 400 Bad Request: model not found]"), 1)
    assert out["status"] == "failed" and "model not found" in str(out["reason"]) and "exit 1" in str(out["reason"])


@pytest.mark.parametrize(("code", "words"), [(41, "authentication error"), (55, "untrusted working directory")])
def test_gemini_auth_and_trust_exits_name_their_cause(code: int, words: str) -> None:
    # gemini prints nothing on stdout for these ("Invalid auth method selected." goes to stderr).
    assert words in str(_classify("gemini", [], code)["reason"])


def _claude_api_error(status: int, error: str) -> list[dict[str, object]]:
    # The shape claude 2.1.332 prints for an HTTP error with API-key auth: no rate_limit_event, exit 1.
    sid = "0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b"
    return [
        {"type": "system", "subtype": "init", "session_id": sid, "model": "claude-sonnet-4-5-20250929"},
        {
            "type": "assistant",
            "message": {"id": "x", "model": "<synthetic>", "content": [{"type": "text", "text": error}]},
            "session_id": sid,
            "error": "rate_limit" if status == 429 else "authentication_failed",
            "is_api_error_message": True,
        },
        {
            "duration_api_ms": 5,
            "session_id": sid,
            "is_error": True,
            "subtype": "success",
            "api_error_status": status,
            "result": error,
            "terminal_reason": "api_error",
            "type": "result",
        },
    ]


def test_claude_http_429_with_api_key_auth_is_rate_limited_with_unknown_reset() -> None:
    out = _classify("claude", _claude_api_error(429, "API Error: Rate limit reached"), 1)
    assert out["status"] == "rate_limited" and out["resets_at"] is None
    assert "HTTP 429" in str(out["reason"])


def test_claude_http_401_with_exit_1_is_a_failure_not_a_rate_limit() -> None:
    out = _classify("claude", _claude_api_error(401, "Invalid API key · Fix external API key"), 1)
    assert out["status"] == "failed" and "api_error (HTTP 401)" in str(out["reason"])


def test_claude_429_after_a_rejected_rate_limit_event_keeps_its_reset_time() -> None:
    lines = _claude_api_error(429, "API Error: Claude AI usage limit reached")
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": 1787520600}}
    out = _classify("claude", [lines[0], event, *lines[1:]], 1)
    assert out["status"] == "rate_limited" and out["resets_at"] == 1787520600


def test_resuming_with_a_tool_that_cannot_resume_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot resume"):
        start_agent_run(
            AgentProfile(tool="aider"),
            "hi",
            cwd=tmp_path,
            runs_dir=tmp_path / "runs",
            state_dir=tmp_path / "state",
            session=SessionPlan.resume_of("abc"),
            environ={"PATH": "/usr/bin"},
        )
    assert not (tmp_path / "runs").exists()

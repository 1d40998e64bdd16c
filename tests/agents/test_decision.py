"""Decision extraction: bare, fenced, embedded, nested, inside Claude's result string; last wins; typed misses."""

from __future__ import annotations

import json

import pytest

from animus.agents import DECISION_INSTRUCTION, Decision, NoDecision, extract_decision, get_adapter

ADVANCE = {"kind": "phase_decision", "verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "tests pass",
           "evidence": [{"kind": "test", "description": "pytest green"}]}


def line(**over: object) -> str:
    return json.dumps({**ADVANCE, **over})


def test_bare_json_line_is_a_decision_with_every_field() -> None:
    got = extract_decision([line()])
    assert isinstance(got, Decision)
    assert (got.verdict, got.confidence, got.risk, got.reason) == ("advance", 0.9, "low", "tests pass")
    assert got.evidence == [{"kind": "test", "description": "pytest green"}]


def test_fenced_json_block_is_found() -> None:
    text = "Summary of the work.\n\n```json\n" + json.dumps(ADVANCE, indent=2) + "\n```\n"
    assert isinstance(extract_decision([text]), Decision)


def test_decision_embedded_mid_sentence_is_found() -> None:
    text = "I am done, here it is: " + line(verdict="rework") + " — thanks."
    got = extract_decision([text])
    assert isinstance(got, Decision) and got.verdict == "rework"


@pytest.mark.parametrize("key", ["result", "decision", "phase_decision"])
def test_decision_nested_under_a_wrapper_key_is_found(key: str) -> None:
    wrapped = json.dumps({"kind": "implementation_result", "commit_message": "feat: x", key: ADVANCE})
    got = extract_decision([wrapped])
    assert isinstance(got, Decision) and got.verdict == "advance"


def test_decision_inside_a_string_field_like_claude_result_text_is_found() -> None:
    claude_result = json.dumps({"type": "result", "subtype": "success", "is_error": False,
                                "result": "All good.\n" + line(verdict="skip", reason="already_done")})
    got = extract_decision([claude_result])
    assert isinstance(got, Decision) and got.verdict == "skip" and got.reason == "already_done"


def test_the_last_decision_wins_within_a_text_and_across_texts() -> None:
    text = line(verdict="rework") + "\nthen I fixed it\n" + line(verdict="advance")
    got = extract_decision([line(verdict="fail"), text])
    assert isinstance(got, Decision) and got.verdict == "advance"


def test_object_without_kind_but_with_verdict_counts() -> None:
    got = extract_decision(['{"verdict": "ADVANCE", "confidence": "0.7"}'])
    assert isinstance(got, Decision) and got.verdict == "advance" and got.confidence == 0.7


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no json here at all", "no phase_decision JSON found"),
        (line(verdict="maybe"), "verdict 'maybe' not one of advance|rework|skip|fail"),
        (line(confidence=1.7), "confidence 1.7 out of 0..1"),
        (line(confidence="high"), "confidence 'high' is not a number"),
        (line(confidence=True), "confidence True is not a number"),
        (line(risk="extreme"), "risk 'extreme' not one of low|medium|high"),
        (line(evidence="see tests"), "evidence must be a list, got str"),
        ('{"kind":"phase_decision","verdict":"advance","confidence":0.9', "no valid phase_decision JSON"),
    ],
)
def test_missing_or_malformed_decision_is_a_typed_no_decision_with_its_reason(text: str, reason: str) -> None:
    got = extract_decision([text])
    assert isinstance(got, NoDecision)
    assert reason in got.reason


def test_a_malformed_last_decision_is_not_replaced_by_an_earlier_valid_one() -> None:
    got = extract_decision([line(), line(verdict="maybe")])
    assert isinstance(got, NoDecision)


def test_extraction_never_raises_on_hostile_text() -> None:
    hostile = ["{" * 50000, '{"verdict": ' + "[" * 100000, None, "", "\x00verdict\xff{"]
    assert isinstance(extract_decision(hostile), NoDecision)


def test_instruction_example_itself_parses_as_a_valid_decision() -> None:
    got = extract_decision([DECISION_INSTRUCTION])
    assert isinstance(got, Decision) and got.verdict == "advance"


def test_claude_outcome_takes_the_decision_from_the_result_string() -> None:
    adapter = get_adapter("claude")
    result = {"type": "result", "subtype": "success", "is_error": False, "session_id": "s",
              "result": "Done.\n" + line(verdict="rework", reason="flaky test")}
    events = adapter.parse_lines([json.dumps(result).encode()])
    outcome = adapter.classify(events, 0)
    assert isinstance(outcome.decision, Decision)
    assert outcome.decision.verdict == "rework" and outcome.decision.reason == "flaky test"

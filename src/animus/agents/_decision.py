"""Find the phase decision an agent ends with: one JSON object, bare, fenced, embedded or nested."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from animus.domain.runs import Verdict

VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
RISKS: tuple[str, ...] = ("low", "medium", "high")

DECISION_INSTRUCTION = """\
When you are done, end your answer with exactly one line holding this JSON object (no code fence):
{"kind":"phase_decision","verdict":"advance","confidence":0.9,"risk":"low","reason":"<one sentence>",\
"evidence":[{"kind":"test","description":"<what you checked>"}]}
verdict: advance (the phase's work is done), rework (it needs another pass: say why in reason),
skip (nothing to do: reason already_done, duplicate, no_longer_valid or out_of_scope), fail (it cannot be done).
confidence: a number from 0 to 1. risk: low, medium or high."""

# Where agents and CLIs tuck a decision away: wrapper objects, and string fields holding JSON text.
_NESTED_KEYS = ("phase_decision", "decision", "result", "proposal", "data", "payload", "output", "item")
_TEXT_KEYS = ("result", "text", "message", "content", "output_text", "delta", "response")
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Decision:
    """A valid phase decision: verdict, confidence 0..1, risk, reason, evidence (plus what else it said)."""

    verdict: str
    confidence: float = 1.0
    risk: str = "medium"
    reason: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    target_phase: str | None = None
    commit_message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "phase_decision",
            "verdict": self.verdict,
            "confidence": self.confidence,
            "risk": self.risk,
            "reason": self.reason,
            "evidence": self.evidence,
            "target_phase": self.target_phase,
            "commit_message": self.commit_message,
        }


@dataclass(frozen=True)
class NoDecision:
    """No usable decision: why (none found, or the last one found was malformed)."""

    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "no_decision", "reason": self.reason}


def extract_decision(texts: Iterable[str | None]) -> Decision | NoDecision:
    """The LAST decision object found across ``texts`` (in order), validated; never raises."""
    last: dict[str, Any] | None = None
    mentioned = False
    for value in texts:
        if not value or "verdict" not in value:
            continue
        mentioned = True
        found = _candidates_in_text(value, 0)
        if found:
            last = found[-1]
    if last is None:
        if mentioned:
            return NoDecision("a 'verdict' appears but no valid phase_decision JSON object was found")
        return NoDecision("no phase_decision JSON found")
    return validate_decision(last)


def validate_decision(obj: dict[str, Any]) -> Decision | NoDecision:
    """Check one decision object; a typed NoDecision says what is wrong with it."""
    verdict = obj.get("verdict")
    if not isinstance(verdict, str) or verdict.strip().lower() not in VERDICTS:
        return NoDecision(f"verdict {verdict!r} not one of {'|'.join(VERDICTS)}")
    confidence = obj.get("confidence", 1.0)
    if isinstance(confidence, str):
        try:
            confidence = float(confidence)
        except ValueError:
            return NoDecision(f"confidence {confidence!r} is not a number")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return NoDecision(f"confidence {confidence!r} is not a number")
    if not 0.0 <= float(confidence) <= 1.0:
        return NoDecision(f"confidence {confidence} out of 0..1")
    risk = obj.get("risk", "medium")
    if not isinstance(risk, str) or risk.strip().lower() not in RISKS:
        return NoDecision(f"risk {risk!r} not one of {'|'.join(RISKS)}")
    reason = obj.get("reason", "")
    evidence = obj.get("evidence", [])
    if evidence is None:
        evidence = []
    if not isinstance(evidence, list):
        return NoDecision(f"evidence must be a list, got {type(evidence).__name__}")
    target = obj.get("target_phase")
    commit = obj.get("commit_message")
    return Decision(
        verdict=verdict.strip().lower(),
        confidence=float(confidence),
        risk=risk.strip().lower(),
        reason=reason if isinstance(reason, str) else json.dumps(reason),
        evidence=[e for e in evidence if isinstance(e, dict)],
        target_phase=target if isinstance(target, str) else None,
        commit_message=commit if isinstance(commit, str) else None,
        raw=obj,
    )


def _is_decision(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind")
    return kind == "phase_decision" or (kind is None and "verdict" in obj)


def _candidates_in_obj(obj: Any, depth: int) -> list[dict[str, Any]]:
    if depth > _MAX_DEPTH:
        return []
    if isinstance(obj, list):
        out: list[dict[str, Any]] = []
        for item in obj:
            out.extend(_candidates_in_obj(item, depth + 1))
        return out
    if not isinstance(obj, dict):
        return []
    if _is_decision(obj):
        return [obj]
    found: list[dict[str, Any]] = []
    for key in _NESTED_KEYS:
        value = obj.get(key)
        if isinstance(value, dict | list):
            found.extend(_candidates_in_obj(value, depth + 1))
    for key in _TEXT_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and "verdict" in value:
            found.extend(_candidates_in_text(value, depth + 1))
    return found


_decoder = json.JSONDecoder()


def _candidates_in_text(value: str, depth: int) -> list[dict[str, Any]]:
    """Every decision inside the JSON objects embedded in ``value``, in order of appearance."""
    found: list[dict[str, Any]] = []
    pos = value.find("{")
    while pos != -1:
        try:
            obj, end = _decoder.raw_decode(value, pos)
        except (ValueError, RecursionError):
            pos = value.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.extend(_candidates_in_obj(obj, depth))
        pos = value.find("{", end)
    return found

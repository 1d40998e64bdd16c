"""Gates: turn a phase's result into where the run goes next. Pure functions of recorded values."""

from __future__ import annotations

from typing import Any

from animus.domain.runs import RunStatus, Verdict
from animus.engine._plan import _RISK_ORDER
from animus.engine._types import (
    Judgement,
    PhaseSpec,
    Plan,
    Route,
    RunState,
    _AgentPhaseResult,
    _CommandResult,
    _ManualResult,
    _RouteAction,
)


def _judgement(
    source: str,
    verdict: Verdict,
    reason: str,
    *,
    effective: Verdict | None = None,
    confidence: float | None = None,
    risk: str | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> Judgement:
    """A _judgement; ``effective`` defaults to the verdict itself."""
    return {
        "source": source,
        "verdict": verdict,
        "effective": verdict if effective is None else effective,
        "reason": reason,
        "confidence": confidence,
        "risk": risk,
        "evidence": list(evidence or []),
    }


def judge_agent(phase: PhaseSpec, result: _AgentPhaseResult) -> Judgement:
    """The verdict an agent phase returns, after its decision contract is applied.

    An ``advance`` below ``min_confidence``, above ``max_risk`` or missing required evidence is
    treated as ``rework`` (the reason says which rule fired).
    """
    decision = result.get("decision") or {}
    if result.get("status") != "ok" or not decision.get("verdict"):
        return _judgement("agent", Verdict.FAIL, result.get("reason") or "the agent produced no decision")
    verdict = Verdict(decision["verdict"])
    confidence = decision.get("confidence")
    risk = decision.get("risk")
    effective = verdict
    reason = decision.get("reason") or ""
    contract = phase["decision_contract"]
    if verdict == Verdict.ADVANCE and phase.get("require_changes") and result.get("changed_paths") == []:
        # only when the attempt said what it changed: results recorded before issue 11 do not say
        why = "the phase changed no files (require_changes)" + (f"; the agent said: {reason}" if reason else "")
        return _judgement("agent", verdict, why, effective=Verdict.REWORK, confidence=confidence, risk=risk,
                         evidence=decision.get("evidence"))
    if verdict == Verdict.ADVANCE:
        problems = []
        if confidence is not None and confidence < contract["min_confidence"]:
            problems.append(f"confidence {confidence} is below min_confidence {contract['min_confidence']}")
        if risk is not None and _RISK_ORDER.get(risk, 2) > _RISK_ORDER[contract["max_risk"]]:
            problems.append(f"risk {risk} is above max_risk {contract['max_risk']}")
        kinds = {e.get("kind") for e in decision.get("evidence") or [] if isinstance(e, dict)}
        missing = [k for k in contract["required_evidence"] if k not in kinds]
        if missing:
            problems.append(f"required evidence missing: {', '.join(missing)}")
        if problems:
            effective = Verdict.REWORK
            reason = "decision contract: " + "; ".join(problems) + (f" (agent said: {reason})" if reason else "")
    return _judgement(
        "agent", verdict, reason, effective=effective, confidence=confidence, risk=risk, evidence=decision.get("evidence")
    )


def judge_command(result: _CommandResult) -> Judgement:
    """Exit code decides (success → advance, else rework); a JSON decision line on stdout overrides."""
    decision = result.get("decision")
    if decision and decision.get("verdict"):
        return _judgement(
            "command",
            Verdict(decision["verdict"]),
            decision.get("reason") or "decision printed by the command",
            confidence=decision.get("confidence"),
            risk=decision.get("risk"),
            evidence=decision.get("evidence"),
        )
    argv = " ".join(result.get("argv", []))
    if result.get("ok"):
        return _judgement("command", Verdict.ADVANCE, f"exit code {result.get('exit_code')}", confidence=1.0, risk="low",
                         evidence=[{"kind": "tests_passed", "description": argv}])
    why = "timed out" if result.get("timed_out") else f"exit code {result.get('exit_code')}"
    failing = result.get("failing_tests") or []
    reason = f"command {argv!r} failed ({why})"
    if failing:
        reason += f"; failing tests: {', '.join(failing[:20])}"
    return _judgement("command", Verdict.REWORK, reason, confidence=1.0, risk="low",
                     evidence=[{"kind": "tests_failed", "description": reason}])


def judge_manual(result: _ManualResult) -> Judgement:
    approved = bool(result.get("approved"))
    note = result.get("note") or ""
    if result.get("timed_out"):
        reason = "manual gate timed out (treated as reject)"
    else:
        reason = f"{'approved' if approved else 'rejected'} by {result.get('by') or 'a human'}" + (f": {note}" if note else "")
    verdict = Verdict.ADVANCE if approved else Verdict.REWORK
    return _judgement("manual", verdict, reason, evidence=[{"kind": "manual_verification", "description": reason}])


def _judge_skipped(reason: str) -> Judgement:
    """A phase whose ``skip_if`` matched the task."""
    return _judgement("skip_if", Verdict.SKIP, reason)


def _go(action: _RouteAction, next_index: int, *, status: RunStatus | None = None, target_phase: str | None = None) -> Route:
    return {"action": action, "next_index": next_index, "status": status.value if status else None, "target_phase": target_phase}


def route(plan: Plan, index: int, judged: Judgement, state: RunState) -> Route:
    """Where the run goes after phase ``index``: next index, or a terminal run status, and why.

    ``rework`` goes to the entry's rework target (or the phase itself) while the target's budget
    (``max_rework_attempts`` of the entry that sends the work back) lasts; exhausted → escalated.
    """
    phase = plan["phases"][index]
    effective = judged["effective"]
    if effective in (Verdict.ADVANCE, Verdict.SKIP):
        return _go("next", index + 1)
    if effective == Verdict.FAIL:
        return _go("stop", index, status=RunStatus.FAILED)
    target = phase["rework_target"] or phase["id"]
    if phase["mode"] == "manual" and not phase["rework_target"]:
        return _go("stop", index, status=RunStatus.FAILED)
    used = int(state.get("rework_counts", {}).get(phase["id"], 0))
    if used >= int(phase["max_rework_attempts"]):
        escalated = _go("stop", index, status=RunStatus.ESCALATED, target_phase=target)
        escalated["why"] = f"rework budget of {phase['id']} exhausted ({used} of {phase['max_rework_attempts']})"
        return escalated
    target_index = next(p["index"] for p in plan["phases"] if p["id"] == target)
    return _go("rework", target_index, target_phase=target)


def _budget_route(index: int) -> Route:
    """A phase stopped for its spend goes again as a new attempt, once the budget check before it lets it."""
    return _go("retry", index)


def _conflict_route(plan: Plan, state: RunState) -> Route:
    """A merge conflict goes back to the first agent phase while its rework budget lasts."""
    target = next((p for p in plan["phases"] if p["mode"] == "agent"), None)
    used = int(state.get("conflict_reworks", 0))
    if target is None or used >= int(target["max_rework_attempts"]):
        return _go("stop", len(plan["phases"]), status=RunStatus.MERGE_CONFLICT)
    return _go("rework", int(target["index"]), target_phase=target["id"])

"""Gates: turn a phase's result into where the run goes next. Pure functions of recorded values."""

from __future__ import annotations

from typing import Any

from animus.engine._plan import RISK_ORDER


def judge_agent(phase: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The verdict an agent phase returns, after its decision contract is applied.

    An ``advance`` below ``min_confidence``, above ``max_risk`` or missing required evidence is
    treated as ``rework`` (the reason says which rule fired).
    """
    decision = result.get("decision") or {}
    if result.get("status") != "ok" or not decision.get("verdict"):
        return {
            "source": "agent",
            "verdict": "fail",
            "effective": "fail",
            "reason": result.get("reason") or "the agent produced no decision",
            "confidence": None,
            "risk": None,
            "evidence": [],
        }
    verdict = decision["verdict"]
    confidence = decision.get("confidence")
    risk = decision.get("risk")
    effective = verdict
    reason = decision.get("reason") or ""
    contract = phase["decision_contract"]
    if verdict == "advance":
        problems = []
        if confidence is not None and confidence < contract["min_confidence"]:
            problems.append(f"confidence {confidence} is below min_confidence {contract['min_confidence']}")
        if risk is not None and RISK_ORDER.get(risk, 2) > RISK_ORDER[contract["max_risk"]]:
            problems.append(f"risk {risk} is above max_risk {contract['max_risk']}")
        kinds = {e.get("kind") for e in decision.get("evidence") or [] if isinstance(e, dict)}
        missing = [k for k in contract["required_evidence"] if k not in kinds]
        if missing:
            problems.append(f"required evidence missing: {', '.join(missing)}")
        if problems:
            effective = "rework"
            reason = "decision contract: " + "; ".join(problems) + (f" (agent said: {reason})" if reason else "")
    return {
        "source": "agent",
        "verdict": verdict,
        "effective": effective,
        "reason": reason,
        "confidence": confidence,
        "risk": risk,
        "evidence": decision.get("evidence") or [],
    }


def judge_command(result: dict[str, Any]) -> dict[str, Any]:
    """Exit code decides (success → advance, else rework); a JSON decision line on stdout overrides."""
    decision = result.get("decision")
    if decision and decision.get("verdict"):
        return {
            "source": "command",
            "verdict": decision["verdict"],
            "effective": decision["verdict"],
            "reason": decision.get("reason") or "decision printed by the command",
            "confidence": decision.get("confidence"),
            "risk": decision.get("risk"),
            "evidence": decision.get("evidence") or [],
        }
    if result.get("ok"):
        return {"source": "command", "verdict": "advance", "effective": "advance", "reason": f"exit code {result.get('exit_code')}",
                "confidence": 1.0, "risk": "low", "evidence": [{"kind": "tests_passed", "description": " ".join(result.get("argv", []))}]}
    why = "timed out" if result.get("timed_out") else f"exit code {result.get('exit_code')}"
    failing = result.get("failing_tests") or []
    reason = f"command {' '.join(result.get('argv', []))!r} failed ({why})"
    if failing:
        reason += f"; failing tests: {', '.join(failing[:20])}"
    return {"source": "command", "verdict": "rework", "effective": "rework", "reason": reason, "confidence": 1.0, "risk": "low",
            "evidence": [{"kind": "tests_failed", "description": reason}]}


def judge_manual(result: dict[str, Any]) -> dict[str, Any]:
    approved = bool(result.get("approved"))
    note = result.get("note") or ""
    if result.get("timed_out"):
        reason = "manual gate timed out (treated as reject)"
    else:
        reason = f"{'approved' if approved else 'rejected'} by {result.get('by') or 'a human'}" + (f": {note}" if note else "")
    verdict = "advance" if approved else "rework"
    return {"source": "manual", "verdict": verdict, "effective": verdict, "reason": reason, "confidence": None, "risk": None,
            "evidence": [{"kind": "manual_verification", "description": reason}]}


def route(plan: dict[str, Any], index: int, judged: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Where the run goes after phase ``index``: next index, or a terminal run status, and why.

    ``rework`` goes to the entry's rework target (or the phase itself) while the target's budget
    (``max_rework_attempts`` of the entry that sends the work back) lasts; exhausted → escalated.
    """
    phase = plan["phases"][index]
    effective = judged["effective"]
    if effective in ("advance", "skip"):
        return {"action": "next", "next_index": index + 1, "status": None, "target_phase": None}
    if effective == "fail":
        return {"action": "stop", "next_index": index, "status": "failed", "target_phase": None}
    target = phase["rework_target"] or phase["id"]
    if phase["mode"] == "manual" and not phase["rework_target"]:
        return {"action": "stop", "next_index": index, "status": "failed", "target_phase": None}
    counts = state.get("rework_counts", {})
    used = int(counts.get(phase["id"], 0))
    if used >= int(phase["max_rework_attempts"]):
        return {"action": "stop", "next_index": index, "status": "escalated", "target_phase": target,
                "why": f"rework budget of {phase['id']} exhausted ({used} of {phase['max_rework_attempts']})"}
    target_index = next(p["index"] for p in plan["phases"] if p["id"] == target)
    return {"action": "rework", "next_index": target_index, "status": None, "target_phase": target}

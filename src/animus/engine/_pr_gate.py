"""The pull-request gate: one observation of the PR → wait, rework, merge, or end the run. Pure functions of recorded values.

``decide_pr`` reads what ``animus.pr.observe`` recorded and the loop's memory (``RunState.pr``);
the workflow records what it returns (``animus.tx.pr_decision``), so a replay decides the same.
The order of the rules is the order a reviewer would apply them: merged or closed by a person
first, then feedback not yet answered (failed checks, requested changes, new line comments),
then whether the PR may be merged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from animus.engine._types import (
    Plan,
    _PrAction,
    _PrCheck,
    _PrComment,
    _PrDecision,
    _PrLoopSpec,
    _PrMemory,
    _PrMerged,
    _PrObservation,
    _PrReview,
    _ReworkContext,
)

_ESCALATED_MARKER = "<!-- animus:escalated:{run_id} -->"
_MAX_SHOWN = 20  # names / reviewers quoted in one reason


def _pr_topic(run_id: str) -> str:
    """The DBOS message topic a run waiting on its pull request listens on (any message: look again)."""
    return f"pr:{run_id}"


def _escalation_marker(run_id: str) -> str:
    return _ESCALATED_MARKER.format(run_id=run_id)


def _escalation_comment(run_id: str, reason: str) -> str:
    """The one comment an escalated run leaves on its PR; the hidden marker makes posting it idempotent."""
    return (
        f"{_escalation_marker(run_id)}\n"
        f"**animus stopped working on this pull request** (run `{run_id}`): {reason}\n\n"
        f"A person needs to look. `animus workflow get {run_id}` shows every check and review it answered; "
        f"`animus workflow resume {run_id}` gives it a fresh rework budget."
    )


def _pr_number(url: str | None) -> int | None:
    """``…/pull/17`` → 17."""
    tail = (url or "").rstrip("/").rsplit("/pull/", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def _new_memory(number: int, url: str, repo: str | None) -> _PrMemory:
    return {"number": number, "url": url, "repo": repo, "reworks": 0, "reworked_shas": [], "handled_reviews": [],
            "handled_comments": [], "since": None}


def _loop_of(plan: Plan) -> _PrLoopSpec:
    merge = plan["merge"]
    loop = merge.get("pr_loop") if merge else None
    assert loop, f"plan of workflow {plan['workflow']} has no pr_loop"
    return loop


def decide_pr(plan: Plan, seen: _PrObservation, memory: _PrMemory, previous: _PrObservation | None) -> _PrDecision:
    """What to do after one look at the pull request; ``previous`` is the look before it in this wait (or None)."""
    loop = _loop_of(plan)
    number, head = memory["number"], seen["head_sha"]
    poll = float(loop["poll_secs"])
    error = seen["error"]
    if error is not None:
        if error["kind"] in ("auth", "not_found", "config"):
            return _decided("fail", "github_" + error["kind"], f"cannot read PR #{number}: {error['message']}", memory, head)
        wait = poll
        if error["kind"] == "rate_limited" and error["reset_at"]:
            wait = max(poll, float(error["reset_at"]) - seen["at"] + 1.0)
        return _decided("wait", "github_" + error["kind"], f"GitHub did not answer for PR #{number} "
                        f"({error['message'][:300]}); looking again in {wait:.0f}s", memory, head, wait_secs=wait)
    if seen["state"] == "merged":
        sha = seen["merge_commit_sha"]
        decided = _decided("complete", "merged", f"PR #{number} was merged" + (f" as {sha[:10]}" if sha else ""), memory, head)
        decided["merged_sha"] = sha
        return decided
    if seen["state"] == "closed":
        return _decided("cancel", "closed", f"PR #{number} was closed without merging", memory, head)
    checks = seen["checks"]
    failed = checks["failed"] if head not in memory["reworked_shas"] else []
    handled_reviews, handled_comments = set(memory["handled_reviews"]), set(memory["handled_comments"])
    requested = [r for r in seen["reviews"] if r["state"] == "CHANGES_REQUESTED" and r["id"] not in handled_reviews]
    comments = [c for c in seen["comments"] if c["id"] not in handled_comments and _is_new(c, head, memory["since"])]
    if failed or requested or comments:
        return _rework(plan, loop, seen, memory, failed, requested, comments)
    if checks["failed"]:
        names = _names(c["name"] for c in checks["failed"])
        return _decided("escalate", "checks_failed", f"checks {names} still fail on {_short(head)}, which rework "
                        f"#{memory['reworks']} answered without a new commit", memory, head, evidence=_check_evidence(checks["failed"]))
    blocking = [r for r in seen["reviews"] if r["state"] == "CHANGES_REQUESTED"]
    approvals = [r for r in seen["reviews"] if r["state"] == "APPROVED"]
    if loop["wait_for_checks"] and checks["pending"]:
        return _decided("wait", "pending", f"checks pending on {_short(head)}: {_names(checks['pending'])}", memory, head, wait_secs=poll)
    if loop["wait_for_checks"] and not checks["passed"] and (previous is None or previous["head_sha"] != head):
        # right after a push GitHub may not list the checks yet: no checks count as green from the second look on
        return _decided("wait", "no_checks", f"no checks reported on {_short(head)} yet", memory, head, wait_secs=poll)
    if blocking:
        return _decided("wait", "changes_requested", f"changes requested by {_names(r['user'] for r in blocking)} were "
                        f"answered by rework #{memory['reworks']}; waiting for a new review", memory, head, wait_secs=poll)
    if loop["require_approval"] and not approvals:
        return _decided("wait", "awaiting_approval", f"checks green on {_short(head)}; waiting for an approving review",
                        memory, head, wait_secs=poll)
    approved = f"approved by {_names(r['user'] for r in approvals)}" if approvals else "no approval required"
    if not loop["auto_merge"]:
        return _decided("wait", "ready", f"{approved}, checks green on {_short(head)}; waiting for a person to merge "
                        "(auto_merge is off)", memory, head, wait_secs=poll)
    if seen["mergeable"] is False:
        return _decided("wait", "not_mergeable", f"{approved} and green, but GitHub says PR #{number} cannot be merged "
                        "(does it conflict with its base?)", memory, head, wait_secs=poll)
    return _decided("merge", "approved" if approvals else "green",
                    f"{approved}, checks green on {_short(head)}: merging ({loop['merge_method']})", memory, head)


def _after_merge(plan: Plan, decided: _PrDecision, merged: _PrMerged) -> _PrDecision:
    """The ``merge`` decision once ``animus.pr.merge`` answered: complete, or wait and look again."""
    poll = float(_loop_of(plan)["poll_secs"])
    out: _PrDecision = {**decided, "wait_secs": poll}
    if merged["status"] == "merged":
        sha = merged["sha"]
        return {**out, "action": "complete", "reason": f"{decided['reason']} → merged" + (f" as {sha[:10]}" if sha else ""),
                "merged_sha": sha}
    if merged["status"] == "error" and merged.get("error", {}).get("kind") in ("auth", "not_found", "config"):
        return {**out, "action": "fail", "reason": f"{decided['reason']} → {merged['reason']}"}
    seen = {"moved": "head_moved", "refused": "not_mergeable", "closed": "closed"}.get(merged["status"], "github_error")
    return {**out, "action": "wait", "seen": seen, "reason": f"{decided['reason']} → {merged['reason']}; looking again"}


def _rework(
    plan: Plan, loop: _PrLoopSpec, seen: _PrObservation, memory: _PrMemory,
    failed: list[_PrCheck], requested: list[_PrReview], comments: list[_PrComment],
) -> _PrDecision:
    head, number = seen["head_sha"], memory["number"]
    said = []
    if failed:
        said.append(f"checks failed on {_short(head)}: {_names(c['name'] for c in failed)}")
    if requested:
        said.append(f"changes requested by {_names(r['user'] for r in requested)}")
    if comments:
        said.append(f"{len(comments)} new review comment(s)")
    what = "; ".join(said)
    seen_kind = "checks_failed" if failed else "changes_requested" if requested else "review_comments"
    evidence = _check_evidence(failed) + [{"kind": "changes_requested", "description": f"{r['user']}: {r['body'][:300]}"} for r in requested]
    evidence += [{"kind": "review_comment", "description": f"{c['path']}:{c['line']} {c['user']}: {c['body'][:300]}"} for c in comments]
    target = loop["rework_phase"] or next((p["id"] for p in plan["phases"] if p["mode"] == "agent"), None)
    if target is None:
        return _decided("escalate", seen_kind, f"{what}, and the workflow has no agent phase to rework it", memory, head, evidence=evidence)
    if memory["reworks"] >= int(loop["max_reworks"]):
        return _decided("escalate", seen_kind, f"{what}; PR rework budget exhausted ({memory['reworks']} of "
                        f"{loop['max_reworks']})", memory, head, evidence=evidence, target=target)
    after: _PrMemory = {
        **memory,
        "reworks": memory["reworks"] + 1,
        "reworked_shas": memory["reworked_shas"] + ([head] if failed and head else []),
        "handled_reviews": memory["handled_reviews"] + [r["id"] for r in requested],
        "handled_comments": memory["handled_comments"] + [c["id"] for c in comments],
        "since": seen["at"],
    }
    index = next(p["index"] for p in plan["phases"] if p["id"] == target)
    decided = _decided("rework", seen_kind, f"{what} → rework #{after['reworks']} to {target}", after, head,
                       evidence=evidence, target=target)
    decided["next_index"] = int(index)
    rework: _ReworkContext = {"target": target, "from": "pr", "reason": f"pull request #{number} ({memory['url']}): {what}",
                              "pr_url": memory["url"], "head_sha": head, "checks": failed, "reviews": requested,
                              "comments": comments}
    decided["rework"] = rework
    return decided


def _decided(
    action: _PrAction, seen: str, reason: str, memory: _PrMemory, head: str | None, *,
    wait_secs: float = 0.0, evidence: list[dict[str, Any]] | None = None, target: str | None = None,
) -> _PrDecision:
    return {"action": action, "seen": seen, "reason": reason, "head_sha": head, "wait_secs": wait_secs,
            "target_phase": target, "next_index": None, "evidence": list(evidence or []), "memory": memory}


def _is_new(comment: _PrComment, head: str | None, since: float | None) -> bool:
    """Made on the head commit, or after the last rework was decided (every comment before the first)."""
    if since is None or (head and comment["commit_id"] == head):
        return True
    created = _epoch(comment["created_at"])
    return created is not None and created >= int(since)  # GitHub stamps whole seconds


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _check_evidence(checks: list[_PrCheck]) -> list[dict[str, Any]]:
    return [{"kind": "check_failed", "description": f"{c['name']} ({c['conclusion']}): {c['title']}"[:500]} for c in checks]


def _names(items: Any) -> str:
    names = list(dict.fromkeys(str(i) for i in items))
    return ", ".join(names[:_MAX_SHOWN]) + (f" and {len(names) - _MAX_SHOWN} more" if len(names) > _MAX_SHOWN else "")


def _short(sha: str | None) -> str:
    return sha[:10] if sha else "the head"

"""The prompt an agent phase gets: task, directive, earlier outputs, rework reason, decision format."""

from __future__ import annotations

import json
import re
from typing import Any

from animus.agents import DECISION_INSTRUCTION
from animus.engine._types import PhaseSpec, Plan, RunState, TaskSnapshot, _ReworkContext

_MAX_PRIOR_CHARS = 8000
_MAX_EXCERPT_CHARS = 4000
_MAX_PR_FEEDBACK_CHARS = 24000


def _expand_vars(text: str, variables: dict[str, str]) -> str:
    """``{{name}}`` → the workflow variable's value; unknown names are left as written."""
    return re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: variables.get(m.group(1), m.group(0)), text)


def render_prompt(
    plan: Plan,
    phase: PhaseSpec,
    task: TaskSnapshot,
    state: RunState,
    *,
    worktree: str | None = None,
    decision_only: bool = False,
) -> str:
    variables = plan.get("variables") or {}
    if decision_only:
        return (
            f"Your previous answer for the `{phase['id']}` phase did not end with a valid phase decision.\n"
            f"Do not change any files. Reply with ONLY the decision line.\n\n{DECISION_INSTRUCTION}"
        )
    parts = [
        f"# Task {task['id']}: {task['title']}",
        f"Type: {task['type']} · Priority: {task['priority']}" + (f" · Labels: {', '.join(task['labels'])}" if task["labels"] else ""),
    ]
    if task.get("description"):
        parts += ["", "## Description", task["description"]]
    parts += ["", f"## Phase: {phase['id']} (workflow {plan['workflow']})"]
    directive = phase.get("directive")
    if directive:
        parts.append(_expand_vars(directive, variables))
    if worktree:
        parts.append(f"You are working in a git worktree at {worktree} on its own branch; edit files there. animus commits your changes.")
    outputs = state.get("outputs") or {}
    prior = [f"### {pid}\n{text}" for pid, text in outputs.items() if pid != phase["id"] and text]
    if prior:
        block = "\n\n".join(prior)
        if len(block) > _MAX_PRIOR_CHARS:
            block = block[-_MAX_PRIOR_CHARS:]
        parts += ["", "## Outputs of earlier phases", block]
    rework = state.get("rework")
    if rework and rework.get("target") == phase["id"]:
        parts += ["", f"## Rework requested by `{rework.get('from')}`", rework.get("reason") or "(no reason given)"]
        if rework.get("failing_tests"):
            parts.append("Failing tests: " + ", ".join(rework["failing_tests"]))
        if rework.get("conflict_files"):
            parts.append(
                "Landing conflicted in: " + ", ".join(rework["conflict_files"]) + ". Merge the target branch into this branch and resolve the conflicts."
            )
        rework_excerpt = rework.get("excerpt")
        if rework_excerpt:
            parts += ["Output excerpt:", "```", rework_excerpt[-_MAX_EXCERPT_CHARS:], "```"]
        parts += _pull_request_feedback(rework)
    contract: dict[str, Any] = dict(phase.get("decision_contract") or {})
    parts += ["", "## Decision", DECISION_INSTRUCTION]
    if contract:
        rules = [f"To advance you need confidence ≥ {contract.get('min_confidence')} and risk ≤ {contract.get('max_risk')}."]
        if contract.get("required_evidence"):
            rules.append("Include evidence of kinds: " + ", ".join(contract["required_evidence"]) + ".")
        parts.append(" ".join(rules))
    return "\n".join(parts).strip() + "\n"


def _pull_request_feedback(rework: _ReworkContext) -> list[str]:
    """What the pull request's failed checks and reviewers said, for a rework the PR loop asked for."""
    parts: list[str] = []
    if rework.get("pr_url"):
        head = rework.get("head_sha")
        parts.append(f"Pull request: {rework['pr_url']}" + (f" (head {head[:10]})" if head else "")
                     + ". Fix what follows on this branch; animus commits and pushes to the same pull request.")
    for check in rework.get("checks") or []:
        parts += ["", f"### Failed check `{check['name']}` ({check['conclusion']})" + (f": {check['title']}" if check["title"] else "")]
        if check.get("url"):
            parts.append(check["url"] or "")
        for label, text in (("Summary", check["summary"]), ("Output", check["text"])):
            if text:
                parts += [f"{label}:", "```", text[-_MAX_EXCERPT_CHARS:], "```"]
        if check.get("annotations"):
            parts += ["Annotations:", *(f"- {line}" for line in check.get("annotations") or [])]
    for review in rework.get("reviews") or []:
        parts += ["", f"### {review['user']} requested changes", review["body"] or "(no text; see the review comments)"]
    comments = rework.get("comments") or []
    if comments:
        parts += ["", "### Review comments"]
        for comment in comments:
            where = f"{comment['path']}:{comment['line']}" if comment.get("line") else comment["path"]
            parts.append(f"- `{where}` ({comment['user']}): {comment['body']}")
    block = "\n".join(parts)
    if len(block) > _MAX_PR_FEEDBACK_CHARS:  # one cap for all of it: a PR with many failing checks must not crowd the task out
        block = block[:_MAX_PR_FEEDBACK_CHARS] + "\n… (more on the pull request)"
    return block.splitlines() if block else []


def _excerpt(text: str | None, limit: int = 2000) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else "…" + text[-limit:]


def _decision_json(decision: dict[str, Any]) -> str:
    return json.dumps({"kind": "phase_decision", **decision}, ensure_ascii=False)

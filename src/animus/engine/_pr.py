"""Step bodies of the pull-request loop: look at the PR, merge it, leave the escalation comment.

Each checks the world before it acts, so a replay after a crash never merges or comments twice:
the merge first asks whether the PR is merged already, the comment looks for its hidden marker.
GitHub failures come back as data (``_PrError``) for the gate to decide on, never as exceptions
that would end the workflow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

from animus import git, procs
from animus.domain.errors import AnimusError
from animus.engine import _fleet
from animus.engine._prompts import _excerpt
from animus.engine._steps import EngineContext, _github_client, _secrets
from animus.engine._types import (
    Plan,
    _PrCheck,
    _PrChecks,
    _PrComment,
    _PrCommented,
    _PrError,
    _PrMerged,
    _PrObservation,
    _PrReview,
)

_PASSED = frozenset({"success", "neutral", "skipped"})
_FAILED = frozenset({"failure", "timed_out", "cancelled", "startup_failure", "action_required"})
_MAX_TEXT = 4000  # of a failed check's output text, as the agent is shown it
_MAX_BODY = 4000  # of a review or comment body
_MAX_COMMENTS = 200
_MAX_ANNOTATIONS = 50  # of one failed check: the lines CI pinned to files (GitHub Actions puts its errors there)


def _observe_pr(ctx: EngineContext, plan: Plan, number: int) -> _PrObservation:
    """The PR's state, head, the check runs on its head, the latest review of each reviewer, its review comments."""
    at = time.time()
    merge = plan["merge"]
    assert merge is not None
    try:
        client, repo = _github_client(ctx, merge)
    except AnimusError as err:
        return _unseen(at, number, _error_of(err))
    with client:
        try:
            pull = client.get_pull(repo, number)
            head = pull.get("head") or {}
            seen: _PrObservation = {
                "at": at, "number": number, "error": None, "state": _state(pull), "head_sha": head.get("sha"),
                "head_ref": head.get("ref"), "merge_commit_sha": pull.get("merge_commit_sha"),
                "mergeable": pull.get("mergeable"), "url": pull.get("html_url"),
                "checks": {"pending": [], "failed": [], "passed": 0}, "reviews": [], "comments": [],
            }
            if seen["state"] == "open":
                if seen["head_sha"]:
                    seen["checks"] = _checks(client.check_runs(repo, str(seen["head_sha"])),
                                             annotate=lambda run_id: _annotations(client, repo, run_id))
                seen["reviews"] = _latest_reviews(client.list_reviews(repo, number))
                seen["comments"] = _comments(client.list_review_comments(repo, number))
        except git.GitHubError as err:
            return _unseen(at, number, _error_of(err))
    # masked before it is journaled: a CI log can print a key
    return cast(_PrObservation, json.loads(procs.redact(json.dumps(seen), _secrets(ctx))))


def _merge_pr(ctx: EngineContext, plan: Plan, number: int, sha: str, method: str) -> _PrMerged:
    """Merge the PR if its head is still ``sha`` (GitHub checks that: 409 when it moved); already merged → that merge."""
    merge = plan["merge"]
    assert merge is not None
    try:
        client, repo = _github_client(ctx, merge)
    except AnimusError as err:
        return _merge_failed(_error_of(err))
    with client:
        try:
            pull = client.get_pull(repo, number)
            if _state(pull) == "merged":  # by this step before a crash, or by a person: either way it landed
                return {"status": "merged", "sha": pull.get("merge_commit_sha"), "reason": f"PR #{number} is merged already"}
            if _state(pull) == "closed":
                return {"status": "closed", "sha": None, "reason": f"PR #{number} was closed"}
            _fleet._fence_step(ctx)
            done = client.merge_pull(repo, number, sha=sha, method=method)
        except git.GitHubError as err:
            if err.status == 409:
                return {"status": "moved", "sha": None, "reason": f"GitHub refused the merge: the head moved past {sha[:10]} (409)"}
            if err.status in (405, 422):
                return {"status": "refused", "sha": None, "reason": f"GitHub refused the merge ({err.status}): {err.message[:300]}"}
            return _merge_failed(_error_of(err))
    return {"status": "merged", "sha": done.get("sha"), "reason": f"merged PR #{number} at {sha[:10]}"}


def _comment_pr(ctx: EngineContext, plan: Plan, number: int, marker: str, body: str) -> _PrCommented:
    """Post ``body`` on the PR unless a comment carrying ``marker`` is there already."""
    merge = plan["merge"]
    assert merge is not None
    try:
        client, repo = _github_client(ctx, merge)
        with client:
            for comment in client.list_comments(repo, number):
                if marker in str(comment.get("body") or ""):
                    return {"comment_id": comment.get("id"), "created": False}
            _fleet._fence_step(ctx)
            made = client.create_comment(repo, number, body)
    except AnimusError as err:
        return {"comment_id": None, "created": False, "error": err.message[:500]}
    return {"comment_id": made.get("id"), "created": True}


def _state(pull: dict[str, Any]) -> str:
    if pull.get("merged") or pull.get("merged_at"):
        return "merged"
    return "open" if pull.get("state") == "open" else "closed"


def _checks(runs: list[dict[str, Any]], annotate: Callable[[int], list[str]] | None = None) -> _PrChecks:
    """Pending names, failed checks with their output (and annotations), how many passed (the newest run of each name counts)."""
    newest: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: int(r.get("id") or 0)):
        newest[str(run.get("name") or "?")] = run
    out: _PrChecks = {"pending": [], "failed": [], "passed": 0}
    for name, run in sorted(newest.items()):
        conclusion = run.get("conclusion")
        if run.get("status") != "completed" or conclusion not in _PASSED | _FAILED:
            out["pending"].append(name)
        elif conclusion in _PASSED:
            out["passed"] += 1
        else:
            output = run.get("output") or {}
            failed = _PrCheck(
                name=name, conclusion=conclusion, title=str(output.get("title") or "")[:500],
                summary=_excerpt(str(output.get("summary") or ""), _MAX_TEXT),
                text=_excerpt(str(output.get("text") or ""), _MAX_TEXT), url=run.get("html_url"),
            )
            if annotate is not None and int(output.get("annotations_count") or 0) > 0 and run.get("id"):
                failed["annotations"] = annotate(int(run["id"]))
            out["failed"].append(failed)
    return out


def _annotations(client: git.GitHubClient, repo: str, check_run_id: int) -> list[str]:
    """A failed check's annotations as ``path:line level: title: message`` lines; none when GitHub will not say.

    They add to the summary and text, so a refusal here (an old GitHub Enterprise, a token without
    the checks scope) must not stop the look: the check still counts as failed, without them.
    """
    try:
        found = client.check_run_annotations(repo, check_run_id)
    except git.GitHubError:
        return []
    lines = []
    for note in found[:_MAX_ANNOTATIONS]:
        start, end = note.get("start_line"), note.get("end_line")
        where = str(note.get("path") or "?") + (f":{start}" if start else "") + (f"-{end}" if end and end != start else "")
        title = str(note.get("title") or "").strip()
        message = str(note.get("message") or "").strip()
        text = f"{title}: {message}" if title and title not in message else message or title
        lines.append(_excerpt(f"{where} {note.get('annotation_level') or 'failure'}: {text}", 500))
    if len(found) > _MAX_ANNOTATIONS:
        lines.append(f"… and {len(found) - _MAX_ANNOTATIONS} more on the check")
    return lines


def _latest_reviews(reviews: list[dict[str, Any]]) -> list[_PrReview]:
    """Each reviewer's latest approving or change-requesting review (a comment-only review changes neither)."""
    latest: dict[str, _PrReview] = {}
    for review in reviews:  # oldest first
        state = review.get("state")
        user = str((review.get("user") or {}).get("login") or "?")
        if state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[user] = _PrReview(id=int(review.get("id") or 0), user=user, state=str(state),
                                     body=_excerpt(str(review.get("body") or ""), _MAX_BODY),
                                     commit_id=review.get("commit_id"), submitted_at=review.get("submitted_at"))
        elif state == "DISMISSED":  # a dismissed review shows in its own place: what the reviewer said before no longer holds
            latest.pop(user, None)
    return list(latest.values())


def _comments(comments: list[dict[str, Any]]) -> list[_PrComment]:
    out = [_PrComment(id=int(c.get("id") or 0), path=str(c.get("path") or ""), line=c.get("line") or c.get("original_line"),
                      body=_excerpt(str(c.get("body") or ""), _MAX_BODY), user=str((c.get("user") or {}).get("login") or "?"),
                      commit_id=c.get("commit_id"), created_at=c.get("created_at"))
           for c in comments]
    return out[-_MAX_COMMENTS:]


def _error_of(err: AnimusError) -> _PrError:
    if isinstance(err, git.GitHubRateLimited):
        return {"kind": "rate_limited", "message": err.message, "reset_at": err.reset_at}
    if isinstance(err, git.GitHubUnavailable):
        return {"kind": "unavailable", "message": err.message, "reset_at": None}
    if isinstance(err, git.GitHubAuthError):
        return {"kind": "auth", "message": _with_hint(err), "reset_at": None}
    if isinstance(err, git.GitHubNotFound):
        return {"kind": "not_found", "message": _with_hint(err), "reset_at": None}
    if isinstance(err, git.GitHubError):
        return {"kind": "refused", "message": err.message, "reset_at": None}
    return {"kind": "config", "message": _with_hint(err), "reset_at": None}


def _with_hint(err: AnimusError) -> str:
    return err.message + (f" ({err.hint})" if err.hint else "")


def _unseen(at: float, number: int, error: _PrError) -> _PrObservation:
    return {"at": at, "number": number, "error": error, "state": "", "head_sha": None, "head_ref": None,
            "merge_commit_sha": None, "mergeable": None, "url": None, "checks": {"pending": [], "failed": [], "passed": 0},
            "reviews": [], "comments": []}


def _merge_failed(error: _PrError) -> _PrMerged:
    return {"status": "error", "sha": None, "reason": f"the merge failed: {error['message'][:300]}", "error": error}

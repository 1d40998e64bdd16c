"""Waking the runs that wait on their pull request when a GitHub webhook says the PR changed.

A delivery only says "look again": the run reads the PR itself (``animus.pr.observe``), so a
forged or stale payload can make a run look early, never make it decide anything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypedDict

from animus.domain.runs import RunStatus, WorkflowRun

if TYPE_CHECKING:
    from animus.store import Store

#: the GitHub events that can change what a waiting run decides (its PR, its reviews, the checks on its head)
PR_EVENTS = frozenset({"pull_request", "pull_request_review", "pull_request_review_comment", "check_suite", "check_run"})
_log = logging.getLogger("animus.api")


class PrMention(TypedDict):
    """Which pull requests a delivery is about: the repository, PR numbers and head branches it names."""

    repo: str | None
    numbers: list[int]
    branches: list[str]


def pr_mention(event: str, payload: dict[str, Any]) -> PrMention:
    """What a ``pull_request*`` / ``check_*`` delivery names (empty lists for any other event)."""
    repo = _dig(payload, "repository", "full_name")
    numbers: list[int] = []
    branches: list[str] = []
    if event in ("pull_request", "pull_request_review", "pull_request_review_comment"):
        _add_pull(payload.get("pull_request"), numbers, branches)
        if isinstance(payload.get("number"), int):
            numbers.append(payload["number"])
    elif event in ("check_suite", "check_run"):
        suite = payload.get("check_suite") if event == "check_suite" else _dig(payload, "check_run", "check_suite")
        holder = payload.get(event)
        if isinstance(suite, dict) and isinstance(suite.get("head_branch"), str):
            branches.append(suite["head_branch"])
        for source in (holder, suite):
            pulls = source.get("pull_requests") if isinstance(source, dict) else None
            for pull in pulls if isinstance(pulls, list) else []:
                _add_pull(pull, numbers, branches)
    return PrMention(repo=repo if isinstance(repo, str) else None, numbers=sorted(set(numbers)), branches=sorted(set(branches)))


def runs_waiting_on(store: Store, mention: PrMention) -> list[WorkflowRun]:
    """The runs waiting on a pull request the delivery names (by number or head branch, in its repository)."""
    if not mention["numbers"] and not mention["branches"]:
        return []
    from animus.engine import state_of

    found = []
    for run in store.list_runs(statuses=(RunStatus.WAITING_PR,), limit=10_000):
        pr = state_of(run).get("pr")
        if pr is None:
            continue
        repo = pr.get("repo")
        if mention["repo"] and repo and mention["repo"].lower() != repo.lower():
            continue
        if pr["number"] in mention["numbers"] or (run.branch is not None and run.branch in mention["branches"]):
            found.append(run)
    return found


def wake_pr_runs(store: Store, runs: list[WorkflowRun], *, delivery: str) -> list[str]:
    """Tell each run to look at its PR now (once per ``delivery``); the ids of the runs told.

    Call it after the transaction that admitted the delivery committed: the message goes through
    DBOS's own database connection. A run that cannot be told now still looks at its next poll.
    """
    from animus.domain.errors import AnimusError
    from animus.engine import wake_pr_run

    woke = []
    for run in runs:
        try:
            if wake_pr_run(store.url, run, key=f"gh:{delivery}"):
                woke.append(run.id)
        except AnimusError as exc:
            _log.warning(f"event=pr_wake_failed run={run.id} error={type(exc).__name__}: {str(exc)[:200]}")
    return woke


def _add_pull(pull: Any, numbers: list[int], branches: list[str]) -> None:
    if not isinstance(pull, dict):
        return
    if isinstance(pull.get("number"), int):
        numbers.append(pull["number"])
    ref = _dig(pull, "head", "ref")
    if isinstance(ref, str):
        branches.append(ref)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data

"""Which runs a GitHub delivery wakes: the PR numbers and head branches each event names, in its repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from animus import services
from animus.domain.runs import RunStatus


def _pull(number: int, ref: str) -> dict[str, Any]:
    return {"number": number, "head": {"ref": ref, "sha": "a" * 40}}


def test_every_pr_event_names_its_pull_requests_and_head_branches() -> None:
    repo = {"full_name": "acme/repo"}
    assert services.pr_mention("pull_request", {"number": 3, "pull_request": _pull(3, "animus/task-3"), "repository": repo}) == {
        "repo": "acme/repo", "numbers": [3], "branches": ["animus/task-3"]}
    review = services.pr_mention("pull_request_review", {"review": {}, "pull_request": _pull(4, "b4")})
    assert (review["numbers"], review["branches"], review["repo"]) == ([4], ["b4"], None)
    suite = services.pr_mention("check_suite", {"check_suite": {"head_branch": "b5", "pull_requests": [_pull(5, "b5")]}})
    assert (suite["numbers"], suite["branches"]) == ([5], ["b5"])
    run = services.pr_mention("check_run", {"check_run": {"check_suite": {"head_branch": "b6"}, "pull_requests": []}})
    assert (run["numbers"], run["branches"]) == ([], ["b6"])  # a check on a fork's push names no PR: the branch does
    assert services.pr_mention("push", {"ref": "refs/heads/x"}) == {"repo": None, "numbers": [], "branches": []}
    assert services.PR_EVENTS >= {"pull_request", "pull_request_review", "check_suite", "check_run"}


def test_runs_waiting_on_matches_by_number_or_branch_and_never_another_repository(tmp_path: Path) -> None:
    from animus.store import NewTask, open_store

    store = open_store(db_path=tmp_path / "animus.db")
    try:
        ids = []
        for n, (repo, status) in enumerate([("acme/repo", RunStatus.WAITING_PR), ("acme/repo", RunStatus.RUNNING),
                                            ("other/repo", RunStatus.WAITING_PR)], start=1):
            task = store.create_task(NewTask(title=f"t{n}"))
            run = store.create_run(task.id, "main", {})
            pr = {"number": n, "url": f"https://x/{repo}/pull/{n}", "repo": repo, "reworks": 0, "reworked_shas": [],
                  "handled_reviews": [], "handled_comments": [], "since": None}
            store.update_run(run.id, status=RunStatus.RUNNING, branch=f"animus/task-{n}", state={"pr": pr})
            if status == RunStatus.WAITING_PR:
                store.update_run(run.id, status=status)
            ids.append(run.id)

        def woken(**mention: Any) -> list[str]:
            return [r.id for r in services.runs_waiting_on(store, {"repo": None, "numbers": [], "branches": [], **mention})]

        assert woken(numbers=[1]) == [ids[0]] and woken(branches=["animus/task-1"]) == [ids[0]]
        assert woken(numbers=[2]) == []  # running, not waiting
        assert woken(numbers=[3], repo="acme/repo") == [] and woken(numbers=[3], repo="Other/Repo") == [ids[2]]
        assert woken() == []
    finally:
        store.close()

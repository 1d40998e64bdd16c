"""The PR gate's rules (pure) and the PR steps' world checks against the fake GitHub over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from animus.engine._pr import _comment_pr, _merge_pr, _observe_pr
from animus.engine._pr_gate import _escalation_marker, _new_memory, decide_pr
from animus.engine._steps import EngineContext
from animus.engine._types import Plan, _PrMemory, _PrObservation
from support.fake_github import FakeGitHub

REPO = "acme/repo"


def _plan(**loop: Any) -> Plan:
    spec = {"max_reworks": 2, "wait_for_checks": True, "auto_merge": True, "merge_method": "merge",
            "require_approval": True, "poll_secs": 30.0, "rework_phase": None, **loop}
    phases = [{"index": i, "id": pid, "mode": mode} for i, (pid, mode) in enumerate([("tests", "command"), ("impl", "agent"),
                                                                                     ("review", "agent")])]
    return {"workflow": "main", "description": None, "phases": phases, "variables": {},  # type: ignore[typeddict-item]
            "merge": {"strategy": "merge", "target_branch": None, "create_pr": True, "cleanup_worktree": True, "pr_loop": spec}}


def _seen(head: str = "a" * 40, *, failed: tuple[str, ...] = (), pending: tuple[str, ...] = (), passed: int = 1,
          reviews: list[dict[str, Any]] | None = None, comments: list[dict[str, Any]] | None = None, **extra: Any) -> _PrObservation:
    checks = {"pending": list(pending), "passed": passed,
              "failed": [{"name": n, "conclusion": "failure", "title": f"{n} failed", "summary": "s", "text": "t", "url": None}
                         for n in failed]}
    seen = {"at": 1000.0, "number": 1, "error": None, "state": "open", "head_sha": head, "head_ref": "animus/task-1",
            "merge_commit_sha": None, "mergeable": True, "url": "https://gh/acme/repo/pull/1", "checks": checks,
            "reviews": reviews or [], "comments": comments or [], **extra}
    return seen  # type: ignore[return-value]


def _review(state: str, rid: int = 5, user: str = "ada") -> dict[str, Any]:
    return {"id": rid, "user": user, "state": state, "body": "please fix", "commit_id": "a" * 40, "submitted_at": None}


def _memory(**changes: Any) -> _PrMemory:
    return {**_new_memory(1, "https://gh/acme/repo/pull/1", REPO), **changes}  # type: ignore[typeddict-item]


def test_approved_and_green_merges_at_the_head_the_checks_ran_on() -> None:
    decided = decide_pr(_plan(), _seen(reviews=[_review("APPROVED")]), _memory(), None)
    assert (decided["action"], decided["seen"], decided["head_sha"]) == ("merge", "approved", "a" * 40)


def test_failed_checks_rework_to_the_first_agent_phase_or_the_configured_one() -> None:
    decided = decide_pr(_plan(), _seen(failed=("ci",)), _memory(), None)
    assert decided["action"] == "rework" and decided["target_phase"] == "impl" and decided["next_index"] == 1
    assert decided["memory"]["reworks"] == 1 and decided["memory"]["reworked_shas"] == ["a" * 40]
    assert decided["rework"]["from"] == "pr" and [c["name"] for c in decided["rework"]["checks"]] == ["ci"]
    assert decide_pr(_plan(rework_phase="review"), _seen(failed=("ci",)), _memory(), None)["target_phase"] == "review"


def test_checks_failing_again_on_a_head_a_rework_answered_escalate_instead_of_looping() -> None:
    decided = decide_pr(_plan(), _seen(failed=("ci",)), _memory(reworks=1, reworked_shas=["a" * 40]), None)
    assert decided["action"] == "escalate" and "without a new commit" in decided["reason"]


def test_an_answered_change_request_waits_for_a_new_review_instead_of_reworking_again() -> None:
    memory = _memory(reworks=1, handled_reviews=[5], since=900.0)
    decided = decide_pr(_plan(), _seen("b" * 40, reviews=[_review("CHANGES_REQUESTED")]), memory, None)
    assert (decided["action"], decided["seen"]) == ("wait", "changes_requested")
    approved = decide_pr(_plan(), _seen("b" * 40, reviews=[_review("APPROVED", rid=6)]), memory, None)
    assert approved["action"] == "merge"


def test_only_review_comments_not_answered_yet_ask_for_a_rework() -> None:
    old = {"id": 1, "path": "a.py", "line": 3, "body": "old", "user": "ada", "commit_id": "0" * 40, "created_at": "1970-01-01T00:10:00Z"}
    new = {**old, "id": 2, "body": "new", "created_at": "1970-01-01T00:20:00Z"}
    memory = _memory(reworks=1, handled_comments=[1], since=900.0)
    decided = decide_pr(_plan(), _seen("b" * 40, comments=[old, new]), memory, None)
    assert decided["action"] == "rework" and [c["id"] for c in decided["rework"]["comments"]] == [2]
    assert decided["memory"]["handled_comments"] == [1, 2]


def test_the_budget_is_max_reworks_and_then_the_run_escalates() -> None:
    decided = decide_pr(_plan(max_reworks=1), _seen("b" * 40, failed=("ci",)), _memory(reworks=1, reworked_shas=["a" * 40]), None)
    assert decided["action"] == "escalate" and "budget exhausted (1 of 1)" in decided["reason"]


def test_no_checks_count_as_green_only_from_the_second_look_at_the_same_head() -> None:
    plan = _plan(require_approval=False)
    first = _seen(passed=0)
    assert decide_pr(plan, first, _memory(), None)["seen"] == "no_checks"
    assert decide_pr(plan, first, _memory(), _seen("c" * 40, passed=0))["seen"] == "no_checks"
    assert decide_pr(plan, first, _memory(), first)["action"] == "merge"


def test_pending_checks_wait_unless_wait_for_checks_is_off_and_auto_merge_off_waits_for_a_person() -> None:
    assert decide_pr(_plan(require_approval=False), _seen(pending=("ci",)), _memory(), None)["seen"] == "pending"
    assert decide_pr(_plan(require_approval=False, wait_for_checks=False), _seen(pending=("ci",)), _memory(), None)["action"] == "merge"
    manual = decide_pr(_plan(auto_merge=False), _seen(reviews=[_review("APPROVED")]), _memory(), None)
    assert (manual["action"], manual["seen"]) == ("wait", "ready")


def test_merged_closed_and_github_errors() -> None:
    merged = decide_pr(_plan(), _seen(state="merged", merge_commit_sha="m" * 40), _memory(), None)
    assert merged["action"] == "complete" and merged["merged_sha"] == "m" * 40
    closed = decide_pr(_plan(), _seen(state="closed"), _memory(), None)
    assert closed["action"] == "cancel" and closed["reason"] == "PR #1 was closed without merging"
    limited = _seen(error={"kind": "rate_limited", "message": "spent", "reset_at": 1500.0})
    assert decide_pr(_plan(), limited, _memory(), None)["wait_secs"] == 501.0  # to the reset, not the 30 s poll
    down = _seen(error={"kind": "unavailable", "message": "503", "reset_at": None})
    assert decide_pr(_plan(), down, _memory(), None)["wait_secs"] == 30.0
    denied = decide_pr(_plan(), _seen(error={"kind": "auth", "message": "bad token", "reset_at": None}), _memory(), None)
    assert denied["action"] == "fail" and "bad token" in denied["reason"]


# ---- the steps, against the fake over HTTP --------------------------------------------------------


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeGitHub(token="t0ken") as fake:
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        fake.push(REPO, "main")
        fake.push(REPO, "animus/task-1")
        yield fake


def _ctx(tmp_path: Path) -> EngineContext:
    return EngineContext(tmp_path, tmp_path / "state", f"sqlite:///{tmp_path / 'animus.db'}")


def _step_plan(url: str) -> Plan:
    plan = _plan()
    assert plan["merge"] is not None
    plan["merge"].update(github_repo=REPO, github_api_url=url, github_token_env="GITHUB_TOKEN")
    return plan


def _open_pr(github: FakeGitHub) -> int:
    import httpx

    created = httpx.post(f"{github.url}/repos/{REPO}/pulls", headers={"Authorization": "Bearer t0ken"},
                         json={"head": "animus/task-1", "base": "main", "title": "t", "body": ""})
    assert created.status_code == 201, created.text
    return int(created.json()["number"])


def test_observe_reads_checks_on_the_head_latest_reviews_and_comments(tmp_path: Path, github: FakeGitHub) -> None:
    number = _open_pr(github)
    head = github.pull(REPO, number)["head"]["sha"]
    github.add_check_run(REPO, head, "unit", conclusion="failure", summary="2 failed", text="x" * 10_000,
                         annotations=[{"path": "src/x.py", "start_line": 3, "end_line": 5, "annotation_level": "failure",
                                       "message": "assert 1 == 2"},
                                      *({"path": "a.py", "start_line": n, "message": f"m{n}"} for n in range(1, 60))])
    github.add_check_run(REPO, head, "lint", conclusion="success")
    github.add_check_run(REPO, head, "e2e", status="in_progress", conclusion=None)
    github.add_check_run(REPO, "f" * 40, "unit", conclusion="failure")  # another commit's
    github.add_review(REPO, number, "CHANGES_REQUESTED", "no", user="ada")
    github.add_review(REPO, number, "APPROVED", "now yes", user="ada")
    github.add_review(REPO, number, "COMMENTED", "a thought", user="bob")
    github.add_review_comment(REPO, number, "src/x.py", 12, "rename this", user="bob")
    seen = _observe_pr(_ctx(tmp_path), _step_plan(github.url), number)
    assert seen["error"] is None and seen["state"] == "open" and seen["head_sha"] == head
    assert seen["checks"]["pending"] == ["e2e"] and seen["checks"]["passed"] == 1
    [failed] = seen["checks"]["failed"]
    assert failed["name"] == "unit" and failed["summary"] == "2 failed" and len(failed["text"]) <= 4001
    notes = failed.get("annotations") or []
    assert notes[0] == "src/x.py:3-5 failure: assert 1 == 2" and notes[1] == "a.py:1 failure: m1"
    assert len(notes) == 51 and notes[-1] == "… and 10 more on the check"  # at most 50, then how many were left out
    assert [(r["user"], r["state"]) for r in seen["reviews"]] == [("ada", "APPROVED")]
    assert [(c["path"], c["line"], c["body"], c["user"]) for c in seen["comments"]] == [("src/x.py", 12, "rename this", "bob")]


def test_annotations_github_will_not_give_leave_the_check_failed_without_them(tmp_path: Path, github: FakeGitHub) -> None:
    number = _open_pr(github)
    head = github.pull(REPO, number)["head"]["sha"]
    github.add_check_run(REPO, head, "unit", conclusion="failure", summary="1 failed",
                         annotations=[{"path": "a.py", "start_line": 1, "message": "boom"}])
    github.fail_next(1, status=403, path_contains="/annotations")
    seen = _observe_pr(_ctx(tmp_path), _step_plan(github.url), number)
    assert seen["error"] is None
    [failed] = seen["checks"]["failed"]
    assert failed["summary"] == "1 failed" and failed.get("annotations") == []


def test_observe_turns_a_spent_rate_limit_into_a_wait_until_its_reset(tmp_path: Path, github: FakeGitHub) -> None:
    number = _open_pr(github)
    github.rate_limit(120)
    limited = _observe_pr(_ctx(tmp_path), _step_plan(github.url), number)
    assert limited["error"] is not None and limited["error"]["kind"] == "rate_limited"
    assert limited["error"]["reset_at"] is not None and limited["error"]["reset_at"] > limited["at"] + 60


def test_observe_reports_a_rejected_token_as_auth(tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    number = _open_pr(github)
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    denied = _observe_pr(_ctx(tmp_path), _step_plan(github.url), number)
    assert denied["error"] is not None and denied["error"]["kind"] == "auth" and "GITHUB_TOKEN" in denied["error"]["message"]
    decided = decide_pr(_plan(), denied, _memory(), None)
    assert decided["action"] == "fail" and "cannot read PR #1" in decided["reason"]


def test_merge_checks_first_so_a_replay_after_the_merge_never_merges_again(tmp_path: Path, github: FakeGitHub) -> None:
    number = _open_pr(github)
    head = github.pull(REPO, number)["head"]["sha"]
    assert _merge_pr(_ctx(tmp_path), _step_plan(github.url), number, "e" * 40, "merge")["status"] == "moved"
    first = _merge_pr(_ctx(tmp_path), _step_plan(github.url), number, head, "merge")
    again = _merge_pr(_ctx(tmp_path), _step_plan(github.url), number, head, "merge")
    assert first["status"] == again["status"] == "merged" and first["sha"] == again["sha"] is not None
    assert github.count("PUT", f"/repos/{REPO}/pulls/{number}/merge") == 2  # the stale sha and the one merge


def test_the_escalation_comment_is_posted_once_even_when_the_step_runs_again(tmp_path: Path, github: FakeGitHub) -> None:
    number = _open_pr(github)
    marker = _escalation_marker("R.main.1")
    made = _comment_pr(_ctx(tmp_path), _step_plan(github.url), number, marker, f"{marker}\nstopped")
    again = _comment_pr(_ctx(tmp_path), _step_plan(github.url), number, marker, f"{marker}\nstopped")
    assert made["created"] is True and again == {"comment_id": made["comment_id"], "created": False}
    assert len(github.comments(REPO, number)) == 1

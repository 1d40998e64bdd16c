"""The pull-request loop end to end: a real run, a real origin, the fake GitHub over HTTP, scripted agents.

The test plays GitHub's people and CI (failing checks, reviews, merges by hand) while `animus run`
waits on the PR; every assertion is about what reached GitHub, git, the store and the agent's prompt.
"""

from __future__ import annotations

from pathlib import Path

from support.fake_github import FakeGitHub
from support.pr import (
    BRANCH,
    REPO,
    TOKEN,
    agent_prompts,
    finish,
    github_env,
    pr_decisions,
    pr_project,
    run_row,
    start_run,
    wait_until,
    waiting_at,
)
from support.repo import git


def _merges(github: FakeGitHub) -> list[dict[str, object]]:
    return [entry["body"] for entry in github.log if entry["method"] == "PUT" and entry["path"].endswith("/merge")]


def test_failed_checks_are_reworked_onto_the_same_pr_then_approval_and_green_merge_it_at_that_head(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, auto_merge: true}")
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url))
        first = wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.add_check_run(REPO, first, "unit-tests", conclusion="failure", summary="2 of 40 tests failed",
                             text="FAILED tests/test_parser.py::test_empty - assert [] == ['x']",
                             annotations=[{"path": "src/parser.py", "start_line": 41, "annotation_level": "failure",
                                           "title": "test_empty", "message": "IndexError: list index out of range"}])
        github.add_check_run(REPO, first, "lint", conclusion="success")
        second = wait_until(lambda: waiting_at(project, origin, head=first), "the rework's push to the PR", proc=proc)
        github.add_check_run(REPO, second, "unit-tests", conclusion="success")
        github.add_review(REPO, 1, "APPROVED", "ship it", commit_id=second)
        code, out = finish(proc)
        assert code == 0, out
        [pull] = github.pulls(REPO)
        assert github.count("POST", f"/repos/{REPO}/pulls") == 1  # one PR, reused by the rework's landing
    assert pull["merged_at"] and pull["head"]["sha"] == second != first
    assert _merges(github) == [{"sha": second, "merge_method": "merge"}]
    run = run_row(project)
    assert run.status.value == "completed" and run.pr_url == f"{github.url}/{REPO}/pull/1"
    assert run.landed_sha == pull["merge_commit_sha"] == git(origin, "rev-parse", "refs/heads/main").strip()
    store = project.store()
    assert store.get_task("TASK-1").status.value == "done"
    store.close()
    prompts = agent_prompts(project)
    assert len(prompts) == 4  # implementation, review, then the PR's rework: implementation, review
    rework = prompts[2]
    assert "unit-tests" in rework and "2 of 40 tests failed" in rework and "test_parser.py::test_empty" in rework
    assert "- src/parser.py:41 failure: test_empty: IndexError: list index out of range" in rework  # the annotation
    assert "lint" not in rework.split("## Rework requested", 1)[1]  # only what failed
    assert "unit-tests" not in prompts[0]
    seen = [(verdict, effective) for verdict, effective, _ in pr_decisions(project)]
    assert seen[0] == ("opened", "wait") and ("checks_failed", "rework") in seen and ("pushed", "wait") in seen
    assert seen[-1] == ("approved", "complete")
    assert BRANCH not in git(project.repo, "branch", "--list")  # merged: the worktree and branch are cleaned up
    shown = project.animus("workflow", "get", "TASK-1.main.1")
    assert shown.code == 0, shown.stderr
    assert f"merged PR {github.url}/{REPO}/pull/1 as {run.landed_sha[:10]}" in shown.stdout
    assert "pr checks_failed → rework: checks failed on" in shown.stdout and "unit-tests (failure)" in shown.stdout
    assert "pr approved → complete" in shown.stdout
    lines = shown.stdout.splitlines()
    rework_at = next(i for i, line in enumerate(lines) if "checks_failed → rework" in line)
    assert "implementation #2" in "\n".join(lines[rework_at:])  # the rework's phases come after the decision


def test_changes_requested_with_line_comments_are_reworked_with_file_line_and_text_in_the_prompt(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1}")  # auto_merge off: a person merges
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url))
        first = wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.add_review_comment(REPO, 1, "a.txt", 1, "This should greet the user, not say 'first'.", commit_id=first)
        github.add_review(REPO, 1, "CHANGES_REQUESTED", "Two things: the greeting, and a changelog entry.", commit_id=first)
        second = wait_until(lambda: waiting_at(project, origin, head=first), "the rework's push to the PR", proc=proc)
        wait_until(lambda: any(v == "changes_requested" and e == "wait" for v, e, _ in pr_decisions(project)),
                   "the run to wait for a new review", proc=proc)  # the old review is answered, not reworked again
        github.add_review(REPO, 1, "APPROVED", "thanks", commit_id=second)
        wait_until(lambda: any(v == "ready" for v, _, _ in pr_decisions(project)), "approved and green", proc=proc)
        github.merge_by_person(REPO, 1)
        code, out = finish(proc)
        assert code == 0, out
        assert github.count("POST", f"/repos/{REPO}/pulls") == 1 and _merges(github) == []  # merged by the person
    prompts = agent_prompts(project)
    assert len(prompts) == 4
    rework = prompts[2]
    assert "`a.txt:1` (reviewer): This should greet the user, not say 'first'." in rework
    assert "reviewer requested changes" in rework and "a changelog entry" in rework
    run = run_row(project)
    assert run.status.value == "completed" and run.landed_sha == git(origin, "rev-parse", "refs/heads/main").strip()
    store = project.store()
    assert store.get_task("TASK-1").status.value == "done"
    store.close()
    reworks = [r for v, e, r in pr_decisions(project) if e == "rework"]
    assert len(reworks) == 1 and "changes requested by reviewer" in reworks[0] and "1 new review comment" in reworks[0]


def test_a_push_between_the_look_and_the_merge_is_refused_by_sha_and_the_new_head_merges_later(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, auto_merge: true, merge_method: squash}")
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url), fault="animus.pr.merge:before")
        first = wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.add_check_run(REPO, first, "ci", conclusion="success")
        github.add_review(REPO, 1, "APPROVED", "lgtm", commit_id=first)
        code, _ = finish(proc)
        assert code == -9  # killed where it had decided to merge `first`, before it asked GitHub
        # meanwhile a person pushes a fix-up to the PR's branch
        tree = git(origin, "rev-parse", f"{first}^{{tree}}").strip()
        pushed = git(origin, "commit-tree", tree, "-p", first, "-m", "fix-up by a person").strip()
        git(origin, "update-ref", f"refs/heads/{BRANCH}", pushed, first)
        github.add_check_run(REPO, pushed, "ci", conclusion="success")
        code, out = finish(start_run(project, github_env(github.url)))
        assert code == 0, out
        [pull] = github.pulls(REPO)
        refused = [e["status"] for e in github.log if e["method"] == "PUT" and e["path"].endswith("/merge")]
    assert _merges(github) == [{"sha": first, "merge_method": "squash"}, {"sha": pushed, "merge_method": "squash"}]
    assert refused == [409, 200]
    assert pull["merged_at"] and pull["head"]["sha"] == pushed
    seen = [(v, e) for v, e, _ in pr_decisions(project)]
    assert ("head_moved", "wait") in seen and seen[-1] == ("approved", "complete")
    assert run_row(project).status.value == "completed"


def test_a_pr_closed_without_merging_cancels_the_run_and_blocks_the_task(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1}")
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url))
        wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.close_pull(REPO, 1)
        code, out = finish(proc)
    assert code != 0, out
    run = run_row(project)
    assert run.status.value == "cancelled" and run.failure_reason == "PR #1 was closed without merging"
    store = project.store()
    task = store.get_task("TASK-1")
    store.close()
    assert task.status.value == "blocked" and task.blocked_reason == "PR #1 was closed without merging"
    assert [(v, e) for v, e, _ in pr_decisions(project)][-1] == ("closed", "cancel")


def test_the_rework_budget_runs_out_on_the_second_failing_round_escalates_and_comments_once(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, max_reworks: 1}")
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url))
        first = wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.add_check_run(REPO, first, "ci", conclusion="failure", summary="boom")
        second = wait_until(lambda: waiting_at(project, origin, head=first), "the rework's push", proc=proc)
        github.add_check_run(REPO, second, "ci", conclusion="failure", summary="still boom")
        code, out = finish(proc)
        assert code != 0, out
        comments = github.comments(REPO, 1)
    run = run_row(project)
    assert run.status.value == "escalated" and "PR rework budget exhausted (1 of 1)" in (run.failure_reason or "")
    assert len(comments) == 1 and comments[0]["body"].startswith("<!-- animus:escalated:TASK-1.main.1 -->")
    assert "PR rework budget exhausted" in comments[0]["body"]
    store = project.store()
    assert store.get_task("TASK-1").status.value == "blocked"
    store.close()
    assert [e for _, e, _ in pr_decisions(project)].count("rework") == 1
    assert len(agent_prompts(project)) == 4


def _impl(count: int) -> dict[str, object]:
    """``count`` implementation runs, each writing a file of its own (so each rework pushes a new head)."""
    return {"invocations": [[{"write": {"path": f"work/{n}.txt", "content": f"{n}\n"}},
                             {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": f"wrote {n}"}}]
                            for n in range(count)]}


def test_resuming_a_run_the_pr_loop_escalated_gives_it_a_fresh_budget_on_the_same_pr(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, max_reworks: 1, auto_merge: true}", impl=_impl(3))
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        env = github_env(github.url)
        proc = start_run(project, env)
        first = wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        github.add_check_run(REPO, first, "ci", conclusion="failure", summary="boom")
        second = wait_until(lambda: waiting_at(project, origin, head=first), "the rework's push", proc=proc)
        github.add_check_run(REPO, second, "ci", conclusion="failure", summary="still boom")
        assert finish(proc)[0] != 0 and run_row(project).status.value == "escalated"
        proc = start_run(project, env, command=("workflow", "resume", "TASK-1.main.1"))
        third = wait_until(lambda: waiting_at(project, origin, head=second), "the resumed run's rework push", proc=proc)
        github.add_check_run(REPO, third, "ci", conclusion="success")
        github.add_review(REPO, 1, "APPROVED", "finally", commit_id=third)
        code, out = finish(proc)
        assert code == 0, out
        comments = github.comments(REPO, 1)
        assert github.count("POST", f"/repos/{REPO}/pulls") == 1
    assert _merges(github) == [{"sha": third, "merge_method": "merge"}]
    assert len(comments) == 1  # the escalation's; resuming it said nothing more
    assert [e for _, e, _ in pr_decisions(project)].count("rework") == 2 and run_row(project).status.value == "completed"
    assert "still boom" in agent_prompts(project)[4]  # the resumed rework saw the second round's failure


def test_cancelling_a_run_that_waits_on_its_pr_stops_it_and_leaves_the_pr_alone(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, auto_merge: true}")
    with FakeGitHub(token=TOKEN, git_dir=origin) as github:
        proc = start_run(project, github_env(github.url))
        wait_until(lambda: waiting_at(project, origin), "the run to wait on its PR", proc=proc)
        cancelled = project.animus("workflow", "cancel", "TASK-1.main.1", "--json")
        assert cancelled.code == 0, cancelled.stderr
        code, out = finish(proc)
        assert code != 0, out
        [pull] = github.pulls(REPO)
    assert pull["state"] == "open" and _merges(github) == [] and github.comments(REPO, 1) == []
    run = run_row(project)
    assert run.status.value == "cancelled" and run.failure_reason == "cancelled by user"

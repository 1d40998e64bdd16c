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
                             text="FAILED tests/test_parser.py::test_empty - assert [] == ['x']")
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
    assert "lint" not in rework.split("## Rework requested", 1)[1]  # only what failed
    assert "unit-tests" not in prompts[0]
    seen = [(verdict, effective) for verdict, effective, _ in pr_decisions(project)]
    assert seen[0] == ("opened", "wait") and ("checks_failed", "rework") in seen and ("pushed", "wait") in seen
    assert seen[-1] == ("approved", "complete")
    assert BRANCH not in git(project.repo, "branch", "--list")  # merged: the worktree and branch are cleaned up

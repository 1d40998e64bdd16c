"""The pull-request loop under the daemon: a kill -9 while a run waits on its PR, and a webhook that wakes it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from support.daemon import cleanup, daemon_info, kill, log_text, wait_for
from support.fake_github import FakeGitHub
from support.pr import BRANCH, REPO, TOKEN, github_env, pr_decisions, pr_project, run_row, waiting_at

_SECRET = "hook-s3cret"
_DAEMON = "daemon: {pool_size: 1, interval_secs: 0.2}\n"
_TRIGGER = """\
triggers:
  - id: gh
    type: webhook
    config: {secret_env: HOOK_SECRET, rate_limit_per_minute: 100, github: {label: animus}}
"""


def _start(project: object, env: dict[str, str]) -> None:
    started = project.animus("daemon", "start", "--json", env=env, timeout=90)  # type: ignore[attr-defined]
    assert started.code == 0, (started.stdout, started.stderr, log_text(project)[-3000:])  # type: ignore[arg-type]


def _looks(github: FakeGitHub) -> int:
    """How often animus read the PR itself (each look, and the merge's check first)."""
    return sum(1 for method, path in list(github.requests) if method == "GET" and path == f"/repos/{REPO}/pulls/1")


def test_a_daemon_killed_while_its_run_waits_on_the_pr_keeps_waiting_after_restart_with_one_pr_and_one_comment(
    tmp_path: Path,
) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 1, max_reworks: 0}", more=_DAEMON)
    try:
        with FakeGitHub(token=TOKEN, git_dir=origin) as github:
            env = github_env(github.url)
            _start(project, env)
            assert project.animus("queue", "enqueue", "TASK-1").code == 0
            head = wait_for(lambda: waiting_at(project, origin), 90, "the run to wait on its PR")
            wait_for(lambda: _looks(github) >= 2, 30, "the daemon to look at the PR")
            kill(project)
            before = _looks(github)
            _start(project, env)
            wait_for(lambda: _looks(github) >= before + 3, 60, "the restarted daemon to look at the PR again")
            assert run_row(project).status.value == "waiting_pr"
            assert github.count("POST", f"/repos/{REPO}/pulls") == 1 and github.comments(REPO, 1) == []
            status = project.animus("status")
            assert f"TASK-1.main.1 waits on its pull request: {github.url}/{REPO}/pull/1" in status.stdout
            assert project.animus("status", "--json").json()["waiting_prs"][0]["pr_url"] == f"{github.url}/{REPO}/pull/1"
            # it still acts on what it sees: a failing check with no rework budget left escalates, once
            github.add_check_run(REPO, head, "ci", conclusion="failure", summary="broken")
            wait_for(lambda: run_row(project).status.value == "escalated", 60, "the run to escalate")
            kill(project)
            _start(project, env)
            wait_for(lambda: log_text(project).count("event=ready") == 3, 30, "the third start to be ready")
            comments = github.comments(REPO, 1)
            assert github.count("POST", f"/repos/{REPO}/pulls") == 1
    finally:
        cleanup(project)
    assert len(comments) == 1 and "animus:escalated:TASK-1.main.1" in comments[0]["body"]
    assert [e for _, e, _ in pr_decisions(project)].count("escalate") == 1


def _deliver(port: int, event: str, payload: dict[str, object], delivery: str) -> httpx.Response:
    from animus.api import expected_signature

    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": expected_signature(_SECRET, body)}
    return httpx.post(f"http://127.0.0.1:{port}/api/v1/triggers/gh", content=body, headers=headers, timeout=30)


def _check_run(sha: str, number: int, branch: str) -> dict[str, object]:
    suite = {"id": 7, "head_branch": branch, "head_sha": sha, "pull_requests": []}
    return {"action": "completed", "repository": {"full_name": REPO},
            "check_run": {"id": 99, "name": "ci", "head_sha": sha, "status": "completed", "conclusion": "success",
                          "check_suite": suite, "pull_requests": [{"number": number, "head": {"ref": branch, "sha": sha}}]}}


def test_a_signed_check_run_delivery_wakes_the_waiting_run_long_before_its_poll(tmp_path: Path) -> None:
    project, origin = pr_project(tmp_path, "{poll_secs: 3600, auto_merge: true, require_approval: false}",
                                 more=_DAEMON + _TRIGGER)
    try:
        with FakeGitHub(token=TOKEN, git_dir=origin) as github:
            _start(project, {**github_env(github.url), "HOOK_SECRET": _SECRET})
            assert project.animus("queue", "enqueue", "TASK-1").code == 0
            head = wait_for(lambda: waiting_at(project, origin), 90, "the run to wait on its PR")
            wait_for(lambda: pr_decisions(project)[-1][0] == "no_checks", 30, "the first look (no checks yet)")
            assert _looks(github) == 1  # and now it sleeps for an hour
            port = int((daemon_info(project) or {})["http_port"])
            other = _deliver(port, "check_run", _check_run("0" * 40, 7, "someone/else"), "d-other")
            assert other.status_code == 202 and other.json()["woke"] == []
            github.add_check_run(REPO, head, "ci", conclusion="success")
            woke = _deliver(port, "check_run", _check_run(head, 1, BRANCH), "d-1")
            assert woke.status_code == 202 and woke.json() == {"ok": True, "woke": ["TASK-1.main.1"]}
            assert _deliver(port, "check_run", _check_run(head, 1, BRANCH), "d-1").status_code == 409  # a redelivery
            wait_for(lambda: run_row(project).status.value == "completed", 60, "the woken run to merge")
            [pull] = github.pulls(REPO)
            looks = _looks(github)
    finally:
        cleanup(project)
    assert pull["merged_at"] and pull["head"]["sha"] == head
    assert looks == 3  # the first look, the one the delivery woke, and the merge's check first: no poll ran

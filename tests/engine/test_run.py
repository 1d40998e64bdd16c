"""`animus run` end to end: verdict gates, rework, landing, manual gates, cancel — with real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support.engine import drive, escalated_project, live_run_processes, make_project, outcome_of
from support.repo import git


def test_uninterrupted_run_reworks_once_then_lands_one_merge(tmp_path: Path) -> None:
    project = make_project(tmp_path, tests_phase=True)
    result = drive(project)
    assert result.exits == [0], result.outputs
    out = outcome_of(project)
    assert out["run_status"] == "completed" and out["task_status"] == "done"
    assert [d[4] for d in out["decisions"]] == ["advance", "advance", "rework", "advance", "advance", "advance"]
    assert out["files_on_main"] == [".animus/impl.json", ".animus/review.json", ".animus/workflows.yaml", "README.md", "a.txt", "b.txt"]
    assert out["run_commits"] == ["TASK-1.main.1-implementation-1", "TASK-1.main.1-implementation-2"]
    assert out["merges"] == 1
    assert len(project.spawns()) == 4  # impl, review, impl (rework), review: each spawned exactly once
    assert out["tokens"] == (300, 30)  # summed over the four agent runs
    assert "review #1 → rework → implementation" in result.outputs[0]
    worktrees = git(project.repo, "worktree", "list", "--porcelain")
    assert worktrees.count("worktree ") == 1  # cleaned up after landing
    assert "animus/task-1" not in git(project.repo, "branch", "--list")


def test_running_again_after_completion_starts_nothing_new(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    assert drive(project).exits == [0]
    again = project.animus("run", "TASK-1")
    assert again.code == 4 and "done" in again.stderr
    assert len(project.spawns()) == 4


def test_rework_budget_exhaustion_escalates_and_blocks_the_task(tmp_path: Path) -> None:
    always_rework = {"decision": {"verdict": "rework", "confidence": 0.9, "risk": "low", "reason": "not yet"}}
    project = make_project(tmp_path, review=[always_rework], budget=1)
    result = drive(project)
    assert result.exits == [1]
    out = outcome_of(project)
    assert out["run_status"] == "escalated" and out["task_status"] == "blocked"
    assert [d[4] for d in out["decisions"]] == ["advance", "rework", "advance", "rework"]
    assert out["merges"] == 0
    store = project.store()
    task = store.get_task("TASK-1")
    store.close()
    assert "escalated" in (task.blocked_reason or "") and "rework budget" in (task.blocked_reason or "")


def test_low_confidence_advance_is_treated_as_rework(tmp_path: Path) -> None:
    shaky = {"invocations": [[{"decision": {"verdict": "advance", "confidence": 0.3, "risk": "low", "reason": "maybe"}}],
                             [{"decision": {"verdict": "advance", "confidence": 0.95, "risk": "low", "reason": "sure"}}]]}
    project = make_project(tmp_path, review=shaky)
    assert drive(project).exits == [0]
    out = outcome_of(project)
    assert [(d[3], d[4]) for d in out["decisions"] if d[0] == "review"] == [("advance", "rework"), ("advance", "advance")]


def test_skip_if_skips_a_phase_without_running_it(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    config = project.repo / ".animus" / "workflows.yaml"
    config.write_text(config.read_text().replace(
        "      - review: {on_verdict:", "      - review: {skip_if: [\"type == feature\"], on_verdict:"))
    assert project.animus("config", "validate").code == 0
    git(project.repo, "commit", "-q", "-am", "skip review for features")
    assert drive(project).exits == [0]
    out = outcome_of(project)
    assert [(d[0], d[2], d[4]) for d in out["decisions"]] == [("implementation", "agent", "advance"), ("review", "skip_if", "skip")]
    assert len(project.spawns()) == 1


def test_missing_decision_is_asked_for_once_then_the_run_fails(tmp_path: Path) -> None:
    silent = [{"text": "I did some work but forgot the decision."}]
    project = make_project(tmp_path, impl=silent)
    result = drive(project)
    assert result.exits == [1]
    out = outcome_of(project)
    assert out["run_status"] == "failed"
    store = project.store()
    reasons = [d.reason for d in store.decisions("TASK-1.main.1")]
    store.close()
    assert len(reasons) == 1 and "no phase decision, also when asked again" in reasons[0]
    spawns = project.spawns()
    assert len(spawns) == 2
    assert "--resume" in spawns[1]["argv"]  # the second attempt resumes the session, asking only for the decision
    assert "ONLY the decision" in spawns[1]["argv"][spawns[1]["argv"].index("-p") + 1]


def test_agent_crash_is_retried_by_resuming_its_session(tmp_path: Path) -> None:
    crash_then_ok = {"invocations": [
        [{"text": "starting"}, {"crash": {"code": 137}}],
        [{"write": {"path": "a.txt", "content": "x\n"}}, {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "ok"}}],
    ]}
    approve_all = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
    project = make_project(tmp_path, impl=crash_then_ok, review=approve_all)
    assert drive(project).exits == [0]
    assert outcome_of(project)["run_status"] == "completed"
    assert len(project.spawns()) == 3


def test_manual_gate_approval_survives_a_restart(tmp_path: Path) -> None:
    project = make_project(tmp_path, manual=True)
    result = drive(project, fault="animus.tx.waiting:after")
    assert result.exits[0] == -9 and result.exits[-1] == 0
    assert result.approvals == 1
    out = outcome_of(project)
    assert out["run_status"] == "completed"
    assert out["decisions"][-1][:5] == ("signoff", 1, "manual", "advance", "advance")


def test_manual_gate_rejection_fails_the_run(tmp_path: Path) -> None:
    project = make_project(tmp_path, manual=True)
    result = drive(project, approve=False)
    assert result.exits == [1]
    out = outcome_of(project)
    assert out["run_status"] == "failed" and out["task_status"] == "blocked"
    assert out["decisions"][-1][2:] == ("manual", "rework", "rework")
    assert out["merges"] == 0


def test_dirty_target_checkout_fails_clearly_and_touches_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    readme = project.repo / "README.md"
    readme.write_text("my uncommitted edit\n")
    (project.repo / "a.txt").write_text("my own untracked a.txt\n")
    result = drive(project)
    assert result.exits == [1]
    out = outcome_of(project)
    assert out["run_status"] == "failed" and out["merges"] == 0
    assert readme.read_text() == "my uncommitted edit\n"
    assert (project.repo / "a.txt").read_text() == "my own untracked a.txt\n"
    assert "README.md" in result.outputs[0] or "a.txt" in result.outputs[0]


def test_merge_conflict_goes_back_for_rework_then_ends_merge_conflict(tmp_path: Path) -> None:
    approve_all = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
    conflicting = [{"write": {"path": "README.md", "content": "branch version\n"}},
                   {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "rewrote README"}}]
    project = make_project(tmp_path, impl=conflicting, review=approve_all)
    config = project.repo / ".animus" / "workflows.yaml"
    # a conflict goes back to the first agent phase, within that entry's rework budget
    config.write_text(config.read_text().replace("      - implementation\n", "      - implementation: {max_rework_attempts: 1}\n"))
    git(project.repo, "commit", "-q", "-am", "conflict budget 1")
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                            env={**__import__("os").environ, **project.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # main moves on after the run forked its branch: commit a conflicting README on main
    deadline = time.monotonic() + 60
    while not any(project.state_dir.glob("worktrees/TASK-1")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (project.repo / "README.md").write_text("main version\n")
    git(project.repo, "commit", "-q", "-am", "conflicting change on main")
    out_text = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 1, out_text
    out = outcome_of(project)
    assert out["run_status"] == "merge_conflict"
    land = [d for d in out["decisions"] if d[0] == "land"]
    assert [d[4] for d in land] == ["rework", "fail"]
    assert (project.repo / "README.md").read_text() == "main version\n"
    assert git(project.repo, "status", "--porcelain") == ""


def test_cancel_mid_agent_kills_the_whole_tree_and_keeps_the_worktree(tmp_path: Path) -> None:
    hang = [{"text": "working"}, {"spawn_grandchild_ignoring_sigterm": {}}, {"hang": {}}]
    project = make_project(tmp_path, impl=hang)
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                            env={**__import__("os").environ, **project.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(live_run_processes(project, "TASK-1.main.1-implementation-1")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(live_run_processes(project, "TASK-1.main.1-implementation-1")) >= 2  # agent + grandchild
    cancelled = project.animus("workflow", "cancel", "TASK-1.main.1", "--json")
    assert cancelled.code == 0, cancelled.stderr
    assert cancelled.json()["status"] == "cancelled"
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert live_run_processes(project, "TASK-1.main.1") == []
    out = outcome_of(project)
    assert out["run_status"] == "cancelled" and out["task_status"] == "blocked"
    assert (project.state_dir / "worktrees" / "TASK-1").is_dir()


def test_a_second_executor_is_refused_naming_the_holder(tmp_path: Path) -> None:
    hang = [{"hang": {}}]
    project = make_project(tmp_path, impl=hang)
    project.animus("task", "create", "--title", "other", "--status", "ready")
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo,
                            env={**__import__("os").environ, **project.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not live_run_processes(project, "TASK-1.main.1") and time.monotonic() < deadline:
            time.sleep(0.1)
        second = project.animus("run", "TASK-2", "--json")
        assert second.code == 4
        assert f"pid {proc.pid}" in second.error()["message"]
    finally:
        project.animus("workflow", "cancel", "TASK-1.main.1")
        proc.communicate(timeout=60)
    assert live_run_processes(project, "TASK-1.main.1") == []


def test_workflow_prompt_shows_task_directive_and_decision_format(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.animus("task", "update", "TASK-1", "--description", "Make it \"$(fast)\"")
    shown = project.animus("workflow", "prompt", "TASK-1", "--phase", "implementation")
    assert shown.code == 0, shown.stderr
    assert "Do the thing" in shown.stdout and "Make it \"$(fast)\"" in shown.stdout and "Build it." in shown.stdout
    assert '"kind":"phase_decision"' in shown.stdout
    bad = project.animus("workflow", "prompt", "TASK-1", "--phase", "nope")
    assert bad.code == 2


def test_rate_limit_parks_the_run_until_the_reset_then_resumes_even_across_a_kill(tmp_path: Path) -> None:
    resets_at = int(time.time()) + 6
    limited = {"invocations": [
        [{"text": "starting"}, {"rate_limit": {"resets_at": resets_at}}],
        [{"write": {"path": "a.txt", "content": "x\n"}}, {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "ok"}}],
    ]}
    approve_all = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
    project = make_project(tmp_path, impl=limited, review=approve_all)
    env = {**__import__("os").environ, **project.env}
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(project.spawns()) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the agent reported the limit; the run is parked in its durable sleep
    proc.kill()  # kill -9 the executor while it sleeps
    proc.communicate(timeout=30)
    assert len(project.spawns()) == 1
    result = drive(project)
    assert result.exits == [0], result.outputs
    spawns = project.spawns()
    assert len(spawns) == 3  # limited impl, resumed impl, review: no busy retry loop
    assert spawns[1]["time"] >= resets_at  # slept until the reported reset, not restarted early
    assert "--resume" in spawns[1]["argv"]
    assert outcome_of(project)["run_status"] == "completed"


def test_manual_gate_rejection_survives_a_restart(tmp_path: Path) -> None:
    project = make_project(tmp_path, manual=True)
    result = drive(project, fault="animus.tx.waiting:after", approve=False)
    assert result.exits[0] == -9 and result.exits[-1] == 1
    out = outcome_of(project)
    assert out["run_status"] == "failed" and out["decisions"][-1][2:] == ("manual", "rework", "rework")


def test_escalated_run_resumes_with_a_fresh_budget_and_completes(tmp_path: Path) -> None:
    project = escalated_project(tmp_path)
    assert outcome_of(project)["run_status"] == "escalated"
    resumed = drive(project, command=("workflow", "resume"), task="TASK-1.main.1")
    assert resumed.exits == [0], resumed.outputs
    out = outcome_of(project)
    assert out["run_status"] == "completed" and out["task_status"] == "done" and out["merges"] == 1
    assert [d[4] for d in out["decisions"] if d[0] == "review"] == ["rework", "rework", "advance"]


def test_retry_starts_a_new_run_on_the_same_branch(tmp_path: Path) -> None:
    impl = {"invocations": [
        [{"write": {"path": "a.txt", "content": "x\n"}}, {"decision": {"verdict": "fail", "confidence": 0.9, "risk": "high", "reason": "cannot"}}],
        [{"write": {"path": "b.txt", "content": "y\n"}}, {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "ok"}}],
    ]}
    approve_all = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
    project = make_project(tmp_path, impl=impl, review=approve_all)
    assert drive(project).exits == [1]
    retried = drive(project, command=("workflow", "retry"), task="TASK-1.main.1")
    assert retried.exits == [0], retried.outputs
    store = project.store()
    runs = {r.id: r.status.value for r in store.list_runs(task_id="TASK-1")}
    store.close()
    assert runs == {"TASK-1.main.1": "failed", "TASK-1.main.2": "completed"}
    files = git(project.repo, "ls-tree", "-r", "--name-only", "main").split()
    assert "a.txt" in files and "b.txt" in files  # the retry continued on the same branch


def test_create_pr_without_a_pr_loop_pushes_the_branch_opens_one_pull_request_and_ends(tmp_path: Path) -> None:
    from support.fake_github import FakeGitHub

    approve_all = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
    project = make_project(tmp_path, review=approve_all)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(project.repo, "remote", "add", "origin", str(origin))
    git(project.repo, "push", "-q", "origin", "main")
    config = project.repo / ".animus" / "workflows.yaml"
    config.write_text(config.read_text().replace("merge: {strategy: merge}", "merge: {strategy: merge, create_pr: true, pr_loop: null}"))
    git(project.repo, "commit", "-q", "-am", "land through a pull request")
    with FakeGitHub(token="t0ken", git_dir=origin) as github:
        # the origin is a local path, so the repository is named as GitHub Actions names it
        env = {"GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "acme/repo"}
        result = drive(project, env=env, fault="animus.land:after")
        assert result.exits == [-9, 0], result.outputs
        store = project.store()
        run = store.get_run("TASK-1.main.1")
        store.close()
        assert run.status.value == "completed" and run.pr_url == f"{github.url}/acme/repo/pull/1"
        [pull] = github.pulls("acme/repo")
        assert (pull["head"]["ref"], pull["base"]["ref"], pull["state"]) == ("animus/task-1", "main", "open")
        assert github.count("POST", "/repos/acme/repo/pulls") == 1
    assert pull["head"]["sha"] == git(origin, "rev-parse", "refs/heads/animus/task-1").strip()
    assert git(project.repo, "rev-list", "--merges", "main") == ""  # nothing merged locally


def test_a_pending_run_cancels_before_any_executor_ever_ran(tmp_path: Path) -> None:
    from animus.config import load_config
    from animus.config.project import resolve_project
    from animus.engine import prepare_run

    project = make_project(tmp_path)
    store = project.store()
    run, created = prepare_run(store, load_config(resolve_project(project.repo)), "TASK-1")
    store.close()
    assert created and run.status.value == "pending"
    cancelled = project.animus("workflow", "cancel", run.id, "--json")
    assert cancelled.code == 0, cancelled.stderr
    assert cancelled.json()["status"] == "cancelled"


def test_a_run_dir_left_without_its_spec_is_retried_not_failed(tmp_path: Path) -> None:
    # an older launcher killed between claiming a run id and writing its spec left an empty run dir; the
    # chaos run met one ("has no `tool` label") and failed the workflow instead of retrying the attempt
    import os

    project = make_project(tmp_path)
    orphan = project.state_dir / "runs" / "TASK-1.main.1-implementation-1"
    orphan.mkdir(parents=True)
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))  # its launcher is long gone
    result = drive(project)
    assert result.exits == [0], result.outputs
    out = outcome_of(project)
    assert out["run_status"] == "completed" and out["task_status"] == "done"
    assert len(project.spawns()) == 4  # the orphan never ran an agent; every real run spawned once
    assert (orphan / "exit.json").is_file()  # judged never started, not left running

"""Step bodies of a run: each checks the world before acting, so a replay never acts twice.

Plain functions with JSON-typed inputs and outputs; ``_workflow.py`` declares them as DBOS steps.
They reach git, agents and processes only through those layers.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from animus import agents, git, procs
from animus.config.project import InStateDir
from animus.domain.errors import AnimusError, Conflict
from animus.engine._plan import profile_from_plan
from animus.engine._prompts import excerpt, expand_vars, render_prompt
from animus.engine._types import (
    AgentLaunch,
    AgentOutcome,
    Cleaned,
    CommandResult,
    Committed,
    Landing,
    Launched,
    PhaseSpec,
    Plan,
    TaskSnapshot,
    Worktree,
)

_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR)\s+(\S+)|^(\S+::\S+)\s+FAILED|^--- FAIL: (\S+)|^test (\S+) \.\.\. FAILED", re.M)


@dataclass(frozen=True)
class EngineContext(InStateDir):
    """Where a run's side effects go; set once per executor process."""

    project_root: Path
    state_dir: Path
    db_url: str


def prepare_worktree(ctx: EngineContext, task_id: str, target_branch: str | None) -> Worktree:
    wt = git.prepare_worktree(ctx.project_root, task_id, ctx.worktrees_dir, target_branch)
    target = target_branch or git.Repo(ctx.project_root).current_branch()
    return {"path": str(wt.path), "branch": wt.branch, "base_sha": wt.base_sha, "target_branch": target}


def launch_agent(
    ctx: EngineContext,
    launch: AgentLaunch,
) -> Launched:
    """Start (or find, on replay) the agent run ``launch.agent_run_id``; procs never spawns a run id twice."""
    phase, task, agent_run_id, session_id = launch.phase, launch.task, launch.agent_run_id, launch.session_id
    assert phase["agent"] is not None, f"phase {phase['id']} has no agent"
    profile = profile_from_plan(phase["agent"])
    prompt = render_prompt(launch.plan, phase, task, launch.state, worktree=launch.worktree, decision_only=launch.decision_only)
    session = agents.SessionPlan.resume_of(session_id) if (launch.resume and session_id) else None
    if session is None and agents.get_adapter(profile.tool).takes_session_id:
        # A deterministic session id: a replayed launch of the same run must name the same session.
        import uuid

        session = agents.SessionPlan(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"animus:{agent_run_id}")), resume=False)
    labels = {"workflow_run": launch.run_id, "phase": phase["id"], "task": task["id"]}
    handle = agents.start_agent_run(
        profile, prompt, cwd=launch.worktree, runs_dir=ctx.runs_dir, state_dir=ctx.state_dir, run_id=agent_run_id, session=session, labels=labels
    )
    return {"agent_run_id": handle.run_id, "session_id": session.id if session else None}


def await_agent(ctx: EngineContext, agent_run_id: str) -> AgentOutcome:
    """Wait for the agent run to end (re-attaching from any process) and judge its outcome."""
    handle = procs.attach(agent_run_id, ctx.runs_dir)
    exit_record = handle.wait()
    reader = agents.RunReader(agent_run_id, ctx.runs_dir)
    reader.drain()  # the run has ended: stream its whole log, keeping only the running tally
    outcome = reader.outcome()
    if outcome is None:
        return {"status": "killed", "reason": f"agent run {agent_run_id} ended without an outcome", "decision": None}
    data = cast(AgentOutcome, outcome.to_dict())
    decision = data.get("decision") or {}
    data["decision"] = decision if decision.get("verdict") else None
    data["no_decision_reason"] = None if data["decision"] else decision.get("reason")
    data["final_text"] = excerpt(data.get("final_text"), 4000)
    data["exit_reason"] = exit_record.reason
    return data


def commit_changes(ctx: EngineContext, worktree: str, message: str, agent_run_id: str, base_sha: str | None) -> Committed:
    result = git.commit_all(Path(worktree), message, agent_run_id, base_sha=base_sha)
    return {"sha": result.sha, "created": result.created}


def run_command(ctx: EngineContext, phase: PhaseSpec, worktree: str, variables: dict[str, str]) -> CommandResult:
    """Run a command phase's argv (never a shell); exit code judges, a JSON decision line overrides."""
    spec = phase["command"]
    assert spec is not None, f"command phase {phase['id']} has no command"
    argv = [expand_vars(a, variables) for a in spec["argv"]]
    cwd = worktree if spec.get("cwd", "worktree") == "worktree" else str(ctx.project_root)
    import os

    # the project's own python/pytest, not the ones of the virtualenv animus runs in
    env = {**procs.without_own_venv(os.environ), **(spec.get("env") or {})}
    started = time.monotonic()
    try:
        result = procs.run_program(argv, cwd=cwd, env=env, timeout=spec.get("timeout_secs", 600))
    except AnimusError as err:
        return {"ok": False, "argv": argv, "exit_code": None, "timed_out": False, "excerpt": err.message, "failing_tests": [], "decision": None}
    output = (result.stdout + ("\n" + result.stderr if result.stderr else "")).strip()
    ok = result.returncode in spec.get("success_exit_codes", [0]) and not result.timed_out
    return {
        "ok": ok,
        "argv": argv,
        "exit_code": result.returncode,
        "timed_out": result.timed_out,
        "duration_secs": round(time.monotonic() - started, 3),
        "excerpt": excerpt(procs.redact(output, os.environ), 4000),
        "failing_tests": failing_tests(output),
        "decision": _json_decision(result.stdout),
    }


def failing_tests(output: str) -> list[str]:
    names = []
    for match in _FAILED_TEST.finditer(output):
        name = next(g for g in match.groups() if g)
        if name not in names:
            names.append(name)
    return names[:50]


def _json_decision(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()[-20:]):
        line = line.strip()
        if line.startswith("{") and "verdict" in line:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("verdict") in ("advance", "rework", "skip", "fail"):
                return obj
    return None


def land(ctx: EngineContext, plan: Plan, task: TaskSnapshot, worktree: Worktree, run_id: str) -> Landing:
    """Land the branch as the plan says: merge/squash/rebase, or push + pull request."""
    merge = plan.get("merge")
    if not merge:
        return {"status": "skipped", "sha": None, "conflict_files": [], "pr_url": None}
    target = merge.get("target_branch") or worktree["target_branch"]
    assert target, "landing needs a target branch: set post_success.merge.target_branch or run from a branch"
    title = f"[{task['id']}] {task['title'].splitlines()[0][:100]}"
    if merge.get("create_pr"):
        git.push_branch(ctx.project_root, worktree["branch"])
        body = f"Automated by animus for {task['id']} (run {run_id}).\n\n{task.get('description') or ''}"
        pr = git.ensure_pull_request(ctx.project_root, worktree["branch"], target, title, body)
        return {"status": "pr", "sha": None, "conflict_files": [], "pr_url": pr.url}
    message = f"{title}\n\nLanded by animus run {run_id}."
    try:
        result = git.land(
            ctx.project_root, worktree["branch"], target, merge.get("strategy", "merge"), message, run_id, worktrees_dir=ctx.worktrees_dir
        )
    except Conflict as err:
        return {"status": "dirty_target", "sha": None, "conflict_files": err.details.get("files", []), "pr_url": None, "reason": err.message}
    return {"status": result.status, "sha": result.sha, "conflict_files": result.conflict_files, "pr_url": None}


def cleanup(ctx: EngineContext, plan: Plan, worktree: Worktree) -> Cleaned:
    merge = plan.get("merge")
    if not merge or not merge.get("cleanup_worktree", True) or merge.get("create_pr"):
        return {"removed": False}
    removed = git.remove_worktree(ctx.project_root, Path(worktree["path"]), branch=worktree["branch"], delete_branch=True)
    return {"removed": removed}

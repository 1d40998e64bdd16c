"""Step bodies of a run: each checks the world before acting, so a replay never acts twice.

Plain functions with JSON-typed inputs and outputs; ``_workflow.py`` declares them as DBOS steps.
They reach git, agents and processes only through those layers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from animus import agents, git, procs
from animus.config.project import InStateDir
from animus.domain.errors import AnimusError, Conflict, NotFound
from animus.domain.runs import Verdict
from animus.engine import _budgets, _fleet, _limits
from animus.engine._plan import _SECRET, profile_from_plan
from animus.engine._prompts import _excerpt, _expand_vars, render_prompt
from animus.engine._types import (
    PhaseSpec,
    Plan,
    TaskSnapshot,
    _AgentLaunch,
    _AgentOutcome,
    _Cleaned,
    _CommandResult,
    _Committed,
    _Landing,
    _Launched,
    _MergeSpec,
    _Worktree,
)

_VERDICTS = frozenset(v.value for v in Verdict)
_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR)\s+(\S+)|^(\S+::\S+)\s+FAILED|^--- FAIL: (\S+)|^test (\S+) \.\.\. FAILED", re.M)


@dataclass(frozen=True)
class EngineContext(InStateDir):
    """Where a run's side effects go; set once per executor process."""

    project_root: Path
    state_dir: Path
    db_url: str
    #: the remote task branches travel by and landings are pushed to; None: one host (SQLite, or no remote)
    remote: str | None = None


def _prepare_worktree(ctx: EngineContext, task_id: str, target_branch: str | None) -> _Worktree:
    target = target_branch or git.Repo(ctx.project_root).current_branch()
    if ctx.remote and target:
        # a fleet's target is the remote's: start from its tip, which every host can fetch
        git.fetch_branch(ctx.project_root, target, ctx.remote)
    wt = git.prepare_worktree(ctx.project_root, task_id, ctx.worktrees_dir, target_branch)
    if ctx.remote:
        _fleet._fence_step(ctx)
        git.push_task_branch(ctx.project_root, wt.branch, ctx.remote)  # so a peer can take the run over from here
    return {"path": str(wt.path), "branch": wt.branch, "base_sha": wt.base_sha, "target_branch": target}


def _local_worktree(ctx: EngineContext, worktree: _Worktree, task_id: str) -> _Worktree:
    """The run's worktree on this host (not a step: it runs at every execution of the workflow).

    On the host that made it, the recorded worktree as it is. On a host that took the run over,
    this host's ``worktrees/<task>``, re-made from the task branch the other host pushed after
    its last committed step (or from the recorded base when it pushed none).
    """
    local = ctx.worktrees_dir / task_id
    if not ctx.remote or (Path(worktree["path"]) == local and local.exists()):
        return worktree
    wt = git.restore_worktree(ctx.project_root, task_id, ctx.worktrees_dir, base_sha=worktree["base_sha"], remote=ctx.remote)
    return {**worktree, "path": str(wt.path), "branch": wt.branch}


def _launch_agent(
    ctx: EngineContext,
    launch: _AgentLaunch,
) -> _Launched:
    """Start (or find, on replay) the agent run ``launch.agent_run_id``; procs never spawns a run id twice."""
    phase, task, agent_run_id, session_id = launch.phase, launch.task, launch.agent_run_id, launch.session_id
    assert phase["agent"] is not None, f"phase {phase['id']} has no agent"
    try:
        profile = profile_from_plan(_with_secrets(ctx, phase["agent"], phase.get("agent_id")))
    except _MissingSecret as missing:
        return {"agent_run_id": agent_run_id, "session_id": None, "error": str(missing)}
    if not (ctx.runs_dir / agent_run_id).exists():  # re-executed after it started the agent: never refuse it
        provider, until = _limits._check_paused(ctx, phase["agent"])
        if until is not None:
            return {"agent_run_id": agent_run_id, "session_id": None, "paused_until": until, "provider": provider}
    if phase.get("read_only"):
        profile = dataclasses.replace(profile, read_only=True)
    # Taken before the agent starts (a launch found on replay may have started already: then it is later).
    tree = git.worktree_tree(Path(launch.worktree)) if phase.get("read_only") or phase.get("require_changes") else None
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
    launched: _Launched = {"agent_run_id": handle.run_id, "session_id": session.id if session else None}
    if tree is not None:
        launched["worktree_tree"] = tree
    return launched


class _MissingSecret(Exception):
    """A secret the plan only names has no value at launch, in the live config or the process env."""


_config_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], Any]] = {}


def _live_config(ctx: EngineContext) -> Any:
    """The project's configuration as it is now, or None when it cannot be read (the error is the caller's reason).

    Parsed again only when a config file changed (path, mtime, size): steps ask for it at every
    launch, await and commit, and a parse costs more than the rest of such a step.
    """
    from animus.config import discover_config_files, load_config_files

    paths = discover_config_files(ctx.project_root)
    stamp = tuple((str(p), st.st_mtime_ns, st.st_size) for p in paths if (st := _stat(p)) is not None)
    cached = _config_cache.get(ctx.project_root)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        config = load_config_files(paths, ctx.project_root)
    except AnimusError:
        config = None
    _config_cache[ctx.project_root] = (stamp, config)
    return config


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _with_secrets(ctx: EngineContext, agent: dict[str, Any], agent_id: str | None) -> dict[str, Any]:
    """The plan's agent dict with each secret placeholder replaced by its value, read now.

    A plan keeps secrets out of the database; their values come from the agent profile's ``env:``
    in the live config (MCP servers': theirs), else from animus's own environment. A plan recorded
    before placeholders existed holds values, which are used as they are.
    """
    import os

    placeholders = [v for v in agent.get("env", {}).values() if v == _SECRET]
    placeholders += [v for m in agent.get("mcp_servers", []) for v in m.get("env", {}).values() if v == _SECRET]
    if not placeholders:
        return agent
    config = _live_config(ctx)
    live_agent = config.agents.get(agent_id) if config is not None and agent_id else None

    def resolve(env: dict[str, str], live: dict[str, str], where: str) -> dict[str, str]:
        out = {}
        for name, value in env.items():
            if value == _SECRET:
                value = live.get(name) or os.environ.get(name) or ""
                if not value:
                    raise _MissingSecret(
                        f"{where} needs secret {name}, which the run's plan names but does not store, and it is set "
                        f"neither there in the configuration now nor in animus's environment: put it back in the "
                        f"configuration or export {name} where animus runs, then `animus workflow resume`"
                    )
            out[name] = value
        return out

    resolved = dict(agent)
    resolved["env"] = resolve(dict(agent.get("env", {})), dict(live_agent.env) if live_agent else {}, f"agent {agent_id or agent.get('tool')!r}")
    servers = []
    for server in agent.get("mcp_servers", []):
        live_server = config.mcp_servers.get(server["id"]) if config is not None else None
        servers.append({**server, "env": resolve(dict(server.get("env", {})), dict(live_server.env) if live_server else {}, f"MCP server {server['id']!r}")})
    resolved["mcp_servers"] = servers
    return resolved


def _secrets(ctx: EngineContext) -> dict[str, str]:
    """Every secret an agent of this project may see: animus's environment and the live config's ``env:`` maps."""
    import os

    config = _live_config(ctx)
    if config is None:
        return procs.secret_env(os.environ)
    return procs.secret_env(os.environ, *config.declared_envs(), named=config.api_key_names())


def _await_agent(
    ctx: EngineContext, agent_run_id: str, model: str | None = None, provider: str | None = None,
    budget: _budgets._BudgetWatch | None = None,
) -> _AgentOutcome:
    """Wait for the agent run to end (re-attaching from any process) and judge its outcome.

    With ``budget`` the wait follows the stream and stops the agent once its spend crosses a limit
    (status ``budget_exceeded``); its tokens and dollars up to the stop are its outcome's, as for any run.
    """
    try:
        handle = procs.attach(agent_run_id, ctx.runs_dir)
    except NotFound:
        # Launched on a host that was lost (this daemon took the run over): the attempt died with it, and
        # so did the CLI's session files, so it is retried as a new counted attempt, never resumed.
        return {"status": "lost", "reason": f"agent run {agent_run_id} ran on a host that was lost; retried here",
                "decision": None}
    crossed = None
    if budget is not None and handle.labels.get("tool"):
        crossed = _budgets._watch_spend(ctx, agents.RunReader(agent_run_id, ctx.runs_dir), budget, model)
    if handle.labels.get("tool"):
        _ship_log_entries(ctx, agent_run_id)
    exit_record = handle.wait()
    if not handle.labels.get("tool"):
        # a run dir without its spec (left by a launcher of an older animus killed while claiming it):
        # no agent ever ran, so the attempt is retried as a fresh run
        return {"status": "lost", "reason": f"agent run {agent_run_id} was never started: its launcher died "
                "while claiming it; retried", "decision": None}
    reader = agents.RunReader(agent_run_id, ctx.runs_dir)
    reader.drain()  # the run has ended: stream its whole log, keeping only the running tally
    outcome = reader.outcome()
    if outcome is None:
        return {"status": "killed", "reason": f"agent run {agent_run_id} ended without an outcome", "decision": None}
    # masked before it is journaled and stored: agent text (a decision reason, the final message) can echo a key
    data = cast(_AgentOutcome, json.loads(procs.redact(json.dumps(outcome.to_dict()), _secrets(ctx))))
    decision = data.get("decision") or {}
    data["decision"] = decision if decision.get("verdict") else None
    data["no_decision_reason"] = None if data["decision"] else decision.get("reason")
    data["final_text"] = _excerpt(data.get("final_text"), 4000)
    data["exit_reason"] = exit_record.reason
    data["model"] = data.get("model") or model  # codex and aider name no model in their stream: the profile's
    data["cost_usd"] = agents.run_cost(
        reported_usd=data.get("cost_usd"), model=data.get("model"), input_tokens=int(data.get("input_tokens") or 0),
        output_tokens=int(data.get("output_tokens") or 0), cached_input_tokens=int(data.get("cached_input_tokens") or 0),
        table=_prices(ctx),
    )
    if crossed is not None and data["status"] != "ok":  # stopped for its spend (a run that finished keeps its work)
        data["status"], data["reason"] = "budget_exceeded", f"budget_exceeded: {crossed}"
    if data["status"] == "rate_limited" and provider:  # the limit holds for every run of the provider, not just this one
        _limits._record(ctx, provider, data.get("resets_at"), str(data.get("reason") or "rate limited"), agent_run_id)
    return data


def _ship_log_entries(ctx: EngineContext, agent_run_id: str) -> None:
    """With a log storage plugin locked, follow the stream to its end and hand each event to it (best effort)."""
    from animus.engine._log_entries import _log_sink, _ship_events

    sink = _log_sink(ctx)
    if sink is None:
        return
    try:
        _ship_events(ctx, agents.RunReader(agent_run_id, ctx.runs_dir), sink, _secrets(ctx))
    except (AnimusError, OSError, ValueError) as exc:  # the log is a view: reading it must never end the run
        import logging

        logging.getLogger("animus.engine").warning("log entries stopped run=%s error=%s", agent_run_id, exc)


def _prices(ctx: EngineContext) -> dict[str, agents.Price]:
    """The shipped price table with the live config's ``pricing:`` over it (an edit counts from the next run)."""
    config = _live_config(ctx)
    pricing = getattr(config, "pricing", None) or {}
    return agents.price_table({name: price.model_dump() for name, price in pricing.items()})


def _commit_changes(
    ctx: EngineContext, worktree: str, message: str, agent_run_id: str, base_sha: str | None,
    baseline_tree: str | None = None, read_only: bool = False,
) -> _Committed:
    """Commit the attempt's work; with ``baseline_tree`` say what it changed, and with ``read_only`` never commit.

    A read-only phase's changes stay in the worktree, uncommitted, so a replay sees them again.
    On a run taken over from a lost host, an agent run that ran there left its edits there: unless
    its commit reached the pushed branch, the attempt is ``lost`` (retried), never committed empty.
    """
    if ctx.remote and not (ctx.runs_dir / agent_run_id).is_dir():
        if read_only:
            return {"sha": None, "created": False, "changed_paths": []}
        found = git.find_commit_by_trailer(Path(worktree), agent_run_id, base_sha)
        return {"sha": found, "created": False} if found else {"sha": None, "created": False, "lost": True}
    changed = git.changed_since(Path(worktree), baseline_tree) if baseline_tree else None
    if read_only:
        return {"sha": None, "created": False, "changed_paths": changed or []}
    result = git.commit_all(Path(worktree), procs.redact(message, _secrets(ctx)), agent_run_id, base_sha=base_sha)
    branch = git.Repo(Path(worktree)).current_branch() if ctx.remote else None
    if ctx.remote and branch:
        _fleet._fence_step(ctx)
        git.push_task_branch(Path(worktree), branch, ctx.remote)  # a peer that takes the run over starts from here
    committed: _Committed = {"sha": result.sha, "created": result.created}
    if changed is not None:
        committed["changed_paths"] = changed
    return committed


def _run_command(ctx: EngineContext, phase: PhaseSpec, worktree: str, variables: dict[str, str], attempt_id: str) -> _CommandResult:
    """Run a command phase's argv (never a shell); exit code judges, a JSON decision line overrides.

    The whole (redacted) stdout and stderr go to ``StateLayout.command_log(attempt_id)`` for
    `animus logs`. A replay of the recorded step does not run this body; a rerun after a crash
    inside it runs the command again, as before, and writes the same file over.
    """
    spec = phase["command"]
    assert spec is not None, f"command phase {phase['id']} has no command"
    argv = [_expand_vars(a, variables) for a in spec["argv"]]
    cwd = worktree if spec.get("cwd", "worktree") == "worktree" else str(ctx.project_root)
    import os

    # the project's own python/pytest, not the ones of the virtualenv animus runs in
    env = {**procs.without_own_venv(os.environ), **(spec.get("env") or {})}
    log = ctx.layout.command_log(attempt_id)
    started = time.monotonic()
    try:
        result = procs.run_program(argv, cwd=cwd, env=env, timeout=spec.get("timeout_secs", 600))
    except AnimusError as err:
        _write_command_log(log, argv, f"could not run: {err.message}", "", "")
        return {"ok": False, "argv": argv, "exit_code": None, "timed_out": False, "excerpt": err.message, "failing_tests": [],
                "decision": None, "log": str(log)}
    output = (result.stdout + ("\n" + result.stderr if result.stderr else "")).strip()
    ok = result.returncode in spec.get("success_exit_codes", [0]) and not result.timed_out
    duration = round(time.monotonic() - started, 3)
    ended = f"timed out after {duration}s" if result.timed_out else f"exit code {result.returncode} after {duration}s"
    _write_command_log(log, argv, ended, procs.redact(result.stdout, env), procs.redact(result.stderr, env))
    return {
        "ok": ok,
        "argv": argv,
        "exit_code": result.returncode,
        "timed_out": result.timed_out,
        "duration_secs": duration,
        "excerpt": _excerpt(procs.redact(output, os.environ), 4000),
        "failing_tests": _failing_tests(output),
        "decision": _json_decision(result.stdout),
        "log": str(log),
    }


def _write_command_log(log: Path, argv: list[str], ended: str, stdout: str, stderr: str) -> None:
    procs.private_dir(log.parent, top=log.parent.parent)
    text = f"$ {shlex.join(argv)}\n{ended}\n--- stdout ---\n{stdout}" + ("" if stdout.endswith("\n") or not stdout else "\n")
    text += f"--- stderr ---\n{stderr}" + ("" if stderr.endswith("\n") or not stderr else "\n")
    procs.write_atomic(log, text, mode=0o600)


def _failing_tests(output: str) -> list[str]:
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
            if isinstance(obj, dict) and obj.get("verdict") in _VERDICTS:
                return obj
    return None


def _land(ctx: EngineContext, plan: Plan, task: TaskSnapshot, worktree: _Worktree, run_id: str) -> _Landing:
    """Land the branch as the plan says: merge/squash/rebase, or push + pull request."""
    merge = plan.get("merge")
    if not merge:
        return {"status": "skipped", "sha": None, "conflict_files": [], "pr_url": None}
    target = merge.get("target_branch") or worktree["target_branch"]
    assert target, "landing needs a target branch: set post_success.merge.target_branch or run from a branch"
    title = f"[{task['id']}] {task['title'].splitlines()[0][:100]}"
    if merge.get("create_pr"):
        _fleet._fence_step(ctx)
        git.push_branch(ctx.project_root, worktree["branch"], ctx.remote or "origin")  # after a rework: the same PR's new head
        client, repo = _github_client(ctx, merge)
        body = f"Automated by animus for {task['id']} (run {run_id}).\n\n{task.get('description') or ''}"
        with client:
            pr = git.ensure_pull_request(client, repo, worktree["branch"], target, title, body)
        return {"status": "pr", "sha": None, "conflict_files": [], "pr_url": pr.url, "pr_number": pr.number, "pr_repo": repo,
                "pr_created": pr.created, "head_sha": pr.head_sha}
    message = f"{title}\n\nLanded by animus run {run_id}."
    if ctx.remote:
        _fleet._fence_step(ctx)
        result = git.land_remote(
            ctx.project_root, worktree["branch"], target, merge.get("strategy", "merge"), message, run_id,
            remote=ctx.remote, worktrees_dir=ctx.worktrees_dir, base_sha=worktree["base_sha"],
        )
        return {"status": result.status, "sha": result.sha, "conflict_files": result.conflict_files, "pr_url": None}
    try:
        result = git.land(
            ctx.project_root, worktree["branch"], target, merge.get("strategy", "merge"), message, run_id,
            worktrees_dir=ctx.worktrees_dir, base_sha=worktree["base_sha"],
        )
    except Conflict as err:
        return {"status": "dirty_target", "sha": None, "conflict_files": err.details.get("files", []), "pr_url": None, "reason": err.message}
    return {"status": result.status, "sha": result.sha, "conflict_files": result.conflict_files, "pr_url": None}


def _github_client(ctx: EngineContext, merge: _MergeSpec) -> tuple[git.GitHubClient, str]:
    """The GitHub client and ``owner/name`` the plan's landing names (else the landing remote's)."""
    return git.github_for_project(
        ctx.project_root, ctx.remote or "origin", repo=merge.get("github_repo"), api_url=merge.get("github_api_url"),
        token_env=merge.get("github_token_env") or "GITHUB_TOKEN",
    )


def _cleanup(ctx: EngineContext, plan: Plan, worktree: _Worktree, merged: bool = False) -> _Cleaned:
    """Remove the worktree and branch once the work landed: a merge here, or (``merged``) its pull request merged."""
    merge = plan.get("merge")
    if not merge or not merge.get("cleanup_worktree", True) or (merge.get("create_pr") and not merged):
        return {"removed": False}
    removed = git.remove_worktree(ctx.project_root, Path(worktree["path"]), branch=worktree["branch"], delete_branch=True)
    return {"removed": removed}

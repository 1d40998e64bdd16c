"""`animus workflow …`: inspect runs, decide manual gates, cancel, resume, retry, render prompts."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example, project_secrets
from animus.cli.cost import usd_text
from animus.cli.run import landing_text, run_in_foreground
from animus.cli.task import TASK_ID
from animus.domain.runs import RunStatus

_COMMAND_TAIL_LINES = 10  # of a failed command phase, in `workflow get` (`animus logs` has it all)


def _render_runs(runs: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not runs:
        console().print("no workflow runs")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("RUN", "TASK", "STATUS", "PHASE", "TOKENS", "COST", "STARTED"):
        table.add_column(column, no_wrap=column in ("RUN", "TASK", "STATUS"))
    for r in runs:
        table.add_row(r["id"], r["task_id"], Text(r["status"]), r["current_phase"] or "-", str(r["input_tokens"] + r["output_tokens"]),
                      f"${r['cost_usd']:.4f}", (r["started_at"] or "-")[:19])
    console().print(table)


@click.group(epilog=example("animus workflow list", "animus workflow get TASK-3.standard.1", "animus workflow approve TASK-3.standard.1 --phase signoff"))
def workflow() -> None:
    """Inspect and steer workflow runs."""


@workflow.command("list", epilog=example("animus workflow list --status running", "animus workflow list --task TASK-3 --json"))
@click.option("--task", "task_id", type=TASK_ID, default=None, help="Only runs of this task.")
@click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in RunStatus]), help="Only these statuses.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@common_options
def list_(app: AppContext, task_id: str | None, statuses: tuple[str, ...], limit: int) -> None:
    """List workflow runs, newest first."""
    runs = app.store().list_runs(task_id=task_id, statuses=tuple(RunStatus(s) for s in statuses), limit=limit)
    app.emit([r.to_dict() for r in runs], _render_runs)


@workflow.command("get", epilog=example("animus workflow get TASK-3.standard.1 --json"))
@click.argument("run_id")
@common_options
def get(app: AppContext, run_id: str) -> None:
    """A run with its phase attempts (timings, tokens, cost, verdicts)."""
    store = app.store()
    run = store.get_run(run_id)
    from animus.services import run_cost

    data = {**run.to_dict(with_plan=True), "phases": [p.to_dict() for p in store.phase_runs(run_id)],
            "decisions": [d.to_dict() for d in store.decisions(run_id)], "cost": run_cost(store, run_id).to_dict()}
    data = _masked(app, data, run.plan or {})

    def human(d: dict[str, Any]) -> None:
        from rich.text import Text

        out = console()
        out.print(Text.assemble((d["id"], "bold"), f"  {d['status']}  task {d['task_id']}  workflow {d['workflow']}  branch {d['branch'] or '-'}"))
        if d["failure_reason"]:
            out.print(Text(f"reason: {d['failure_reason']}"))
        reasons = {(x["phase"], x["attempt"]): x["reason"] for x in d["decisions"]}
        landed = landing_text(d)
        if landed:
            out.print(Text(landed))
        # the PR loop's decisions sit between the phase attempts they came after (it has no phase rows)
        pr_decisions = [x for x in d["decisions"] if x["source"] == "pr"]
        for p in d["phases"]:
            while pr_decisions and pr_decisions[0]["at"] < p["started_at"]:
                _pr_decision(pr_decisions.pop(0))
            out.print(Text(f"  {p['seq']:>3} {p['phase']} #{p['attempt']} {p['mode']:<7} {p['status']:<9} "
                           f"tokens {p['input_tokens'] + p['output_tokens']:>7}  {usd_text(p['cost_usd'], p['cost_priced_usd'])}  "
                           f"{p['agent_run_id'] or ''}" + (f"  {p['agent']}/{p['model'] or '?'}" if p.get("agent") else "")))
            if p["mode"] == "command" and p["status"] in ("rework", "failed"):
                _command_failure(p, reasons.get((p["phase"], p["attempt"])), d["id"])
        for x in pr_decisions:
            _pr_decision(x)
        spent = d["cost"]
        out.print(Text(f"total: {d['input_tokens'] + d['output_tokens']} tokens, {usd_text(spent['cost_usd'], spent['priced_usd'])}"))

    app.emit(data, human)


def _pr_decision(decision: dict[str, Any]) -> None:
    """One look at the pull request: what it showed (``checks_failed``…) → what the run did (``rework``…), and why."""
    from rich.text import Text

    style = {"rework": "yellow", "complete": "green", "cancel": "red", "escalate": "red", "fail": "red"}.get(decision["effective"], "dim")
    out = console()
    out.print(Text.assemble("      pr ", (f"{decision['verdict']} → {decision['effective']}", style), f": {decision['reason'][:300]}"))
    for item in decision["evidence"][:10]:
        out.print(Text(f"         {item.get('description', '')[:200]}", style="dim"))


def _command_failure(phase: dict[str, Any], reason: str | None, run_id: str) -> None:
    """Why a command phase failed (its verdict names the failing tests it parsed) and its last lines."""
    from rich.text import Text

    out = console()
    if reason:
        out.print(Text(f"        {reason[:500]}", style="red"))
    for line in (phase["output_excerpt"] or "").strip().splitlines()[-_COMMAND_TAIL_LINES:]:
        out.print(Text(f"        │ {line[:300]}", style="dim"))
    out.print(Text(f"        full output: animus logs {run_id} --phase {phase['phase']}", style="dim"))


@workflow.command("decisions", epilog=example("animus workflow decisions TASK-3.standard.1"))
@click.argument("run_id")
@common_options
def decisions(app: AppContext, run_id: str) -> None:
    """Every verdict of a run: as returned, and as the gate applied it."""
    rows = [d.to_dict() for d in app.store().decisions(app.store().get_run(run_id).id)]

    def human(items: list[dict[str, Any]]) -> None:
        from rich.text import Text

        for d in items:
            shown = d["verdict"] if d["verdict"] == d["effective"] else f"{d['verdict']}→{d['effective']}"
            console().print(Text(f"{d['seq']:>3} {d['phase']} #{d['attempt']} [{d['source']}] {shown}: {d['reason']}"))

    app.emit(rows, human)


def _gate(app: AppContext, run_id: str, phase: str | None, note: str | None, approve: bool) -> None:
    from animus import services

    data = services.decide_gate(app.store(), run_id, phase, approve=approve, note=note)
    app.emit(dict(data), lambda d: console().print(f"{'approved' if approve else 'rejected'} {d['phase']} of {run_id}"))


@workflow.command("approve", epilog=example("animus workflow approve TASK-3.standard.1 --note 'looks good'",
                                            "animus workflow approve TASK-3.standard.1 --phase signoff"))
@click.argument("run_id")
@click.option("--phase", default=None, help="The manual phase waiting for a decision (default: the one open now).")
@click.option("--note", default=None, help="A note recorded with the decision.")
@common_options
def approve(app: AppContext, run_id: str, phase: str | None, note: str | None) -> None:
    """Approve a manual gate (the run continues)."""
    _gate(app, run_id, phase, note, True)


@workflow.command("reject", epilog=example("animus workflow reject TASK-3.standard.1 --note 'tests are flaky'",
                                           "animus workflow reject TASK-3.standard.1 --phase signoff"))
@click.argument("run_id")
@click.option("--phase", default=None, help="The manual phase waiting for a decision (default: the one open now).")
@click.option("--note", default=None, help="Why (goes to the rework target as context).")
@common_options
def reject(app: AppContext, run_id: str, phase: str | None, note: str | None) -> None:
    """Reject a manual gate (rework to its target, or the run fails)."""
    _gate(app, run_id, phase, note, False)


@workflow.command("cancel", epilog=example("animus workflow cancel TASK-3.standard.1"))
@click.argument("run_id")
@common_options
def cancel(app: AppContext, run_id: str) -> None:
    """Cancel a run: stops the agent's process tree, keeps the worktree for inspection."""
    from animus import services

    run = services.cancel_run(app.store(), app.project().runs_dir, run_id)
    app.emit(run.to_dict(), lambda d: console().print(f"cancelled {d['id']} (worktree kept: {d['worktree'] or '-'})"))


@workflow.command("resume", epilog=example("animus workflow resume TASK-3.standard.1"))
@click.argument("run_id")
@common_options
def resume(app: AppContext, run_id: str) -> None:
    """Continue a failed, escalated, conflicted or cancelled run from its last committed step (foreground)."""
    from animus import services

    run_in_foreground(app, services.resume_run(app.store(), run_id))


@workflow.command("retry", epilog=example("animus workflow retry TASK-3.standard.1"))
@click.argument("run_id")
@common_options
def retry(app: AppContext, run_id: str) -> None:
    """Start a new run of the same task and workflow from the first phase (same branch) in the foreground."""
    from animus import services
    from animus.config import load_config

    run = services.retry_run(app.store(), load_config(app.project()), run_id, root=app.project().root,
                             cancel_hint=f"cancel it first: `animus workflow cancel {run_id}`")
    run_in_foreground(app, run)


@workflow.command("prompt", epilog=example("animus workflow prompt TASK-3 --phase implementation"))
@click.argument("task_id", type=TASK_ID)
@click.option("--phase", required=True, help="Phase whose prompt to render.")
@click.option("--workflow", "workflow_id", default=None, help="Workflow (default: the task's active run's, else the task's/default).")
@common_options
def prompt(app: AppContext, task_id: str, phase: str, workflow_id: str | None) -> None:
    """Print the exact prompt an agent phase would get for a task now."""
    from animus.config import load_config
    from animus.domain.errors import InvalidInput
    from animus.engine import RunState, build_plan, choose_workflow, plan_of, render_prompt, state_of, task_snapshot

    store = app.store()
    task = store.get_task(task_id)
    active = store.active_run_for_task(task_id)
    state: RunState = {}
    worktree: str | None = None
    if active is not None and active.plan and not workflow_id:
        plan, state, worktree = plan_of(active), state_of(active), active.worktree
    else:
        config = load_config(app.project())
        plan = build_plan(config, choose_workflow(config, task.workflow, workflow_id), root=app.project().root)
    match = [p for p in plan["phases"] if p["id"] == phase]
    if not match:
        raise InvalidInput(f"workflow {plan['workflow']!r} has no phase {phase!r} (phases: {', '.join(p['id'] for p in plan['phases'])})")
    if match[0]["mode"] != "agent":
        raise InvalidInput(f"phase {phase!r} is a {match[0]['mode']} phase; only agent phases have prompts")
    text = render_prompt(plan, match[0], task_snapshot(task), state, worktree=worktree)
    app.emit({"task_id": task_id, "phase": phase, "workflow": plan["workflow"], "prompt": text}, lambda d: click.echo(d["prompt"], nl=False))


def _masked(app: AppContext, data: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every secret masked: the project's, and those a plan recorded before plans kept secrets out holds."""
    import json

    from animus.procs import redact, secret_env

    agents = [phase["agent"] for phase in plan.get("phases", []) if phase.get("agent")]
    envs = [dict(agent.get("env") or {}) for agent in agents]
    envs += [dict(server.get("env") or {}) for agent in agents for server in agent.get("mcp_servers") or []]
    # "$secret" is the engine's placeholder (engine/_plan.py), not a value; the CLI does not import the engine
    held = {k: v for k, v in secret_env(*envs).items() if v != "$secret"}
    secrets = {**project_secrets(app), **{f"plan_{k}": v for k, v in held.items()}}
    masked: dict[str, Any] = json.loads(redact(json.dumps(data, default=str), secrets))
    return masked

"""`animus agent run|status|stop|list`: drive one agent CLI and read its runs (`animus logs` is cli/logs.py)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from animus.cli.app import AppContext, common_options, example
from animus.domain.errors import InvalidInput, NotFound
from animus.domain.tools import AGENT_TOOLS

if TYPE_CHECKING:
    from animus.agents import AgentEvent, AgentProfile, Outcome

_TEXT_WIDTH = 200


@click.group(
    epilog=example(
        "animus agent run --tool claude --prompt 'Add a docstring to hello.py'",
        "animus agent run --agent reviewer --prompt 'Review the diff' --detach",
        "animus agent list",
    )
)
def agent() -> None:
    """Run, inspect and stop agent CLI processes."""


# -- run --------------------------------------------------------------------------------------------
@agent.command(
    "run",
    epilog=example(
        "animus agent run --tool claude --prompt 'Fix the failing test' --model sonnet",
        "animus agent run --tool codex --prompt 'Explain src/' --detach --json",
        "animus agent run --tool scripted --script demo.json --prompt hi",
        "animus agent run --tool claude --resume 0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b --prompt 'Continue'",
    ),
)
@click.option("--tool", type=click.Choice(AGENT_TOOLS), help="Agent CLI to run (or take a profile with --agent).")
@click.option("--agent", "agent_id", metavar="ID", help="Agent profile from the workflow config (agents.<ID>).")
@click.option("--prompt", required=True, help="The task text given to the agent.")
@click.option("--model", help="Model override.")
@click.option("--cwd", type=click.Path(file_okay=False, exists=True), help="Working directory (default: here).")
@click.option("--timeout", type=float, help="Hard timeout in seconds (default: profile, 3600).")
@click.option("--idle-timeout", type=float, help="Kill after this many seconds without output (default 900).")
@click.option("--detach", is_flag=True, help="Start the run and return at once, printing its run id.")
@click.option("--run-id", help="Run id to use (idempotent: an existing run is never started twice).")
@click.option(
    "--resume",
    "resume_session",
    metavar="SESSION_ID",
    help="Continue this agent session (claude, codex, gemini, opencode, cursor).",
)
@click.option("--base-url", help="Model endpoint (gateway, proxy, local server) for the CLI.")
@click.option("--api-key-env", metavar="NAME", help="Name of the env var holding the API key for --base-url.")
@click.option("--script", type=click.Path(dir_okay=False), help="Script for --tool scripted (the fake agent).")
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="Extra env for the agent (repeatable).")
@click.option("--no-decision", is_flag=True, help="Do not append the phase_decision instruction to the prompt.")
@common_options
def run_cmd(
    app: AppContext,
    tool: str | None,
    agent_id: str | None,
    prompt: str,
    model: str | None,
    cwd: str | None,
    timeout: float | None,
    idle_timeout: float | None,
    detach: bool,
    run_id: str | None,
    resume_session: str | None,
    base_url: str | None,
    api_key_env: str | None,
    script: str | None,
    env_pairs: tuple[str, ...],
    no_decision: bool,
) -> None:
    """Run one agent CLI on a prompt, streaming its events; exit 0 if it succeeded, 1 if not."""
    import dataclasses

    from animus.agents import DECISION_INSTRUCTION, RunReader, SessionPlan, start_agent_run

    profile = _profile(app, tool, agent_id)
    overrides: dict[str, Any] = {"env": {**profile.env, **_parse_env(env_pairs)}}
    for key, value in (
        ("model", model),
        ("timeout_secs", timeout),
        ("idle_timeout_secs", idle_timeout),
        ("base_url", base_url),
        ("api_key_env", api_key_env),
    ):
        if value is not None:
            overrides[key] = value
    if script is not None:
        overrides["script"] = str(Path(script).absolute())
    profile = dataclasses.replace(profile, **overrides)
    full_prompt = prompt if no_decision else prompt.rstrip() + "\n\n" + DECISION_INSTRUCTION
    project = app.project()
    handle = start_agent_run(
        profile,
        full_prompt,
        cwd=Path(cwd or os.getcwd()).absolute(),
        runs_dir=project.runs_dir,
        state_dir=project.state_dir,
        run_id=run_id,
        session=SessionPlan.resume_of(resume_session) if resume_session else None,
        labels={"source": "cli"},
    )
    secrets_env = {**os.environ, **profile.env}
    if detach:
        app.emit({"run_id": handle.run_id}, human=lambda d: click.echo(d["run_id"]))
        return
    reader = RunReader(handle.run_id, project.runs_dir)
    if not app.json_output:
        click.echo(click.style(f"run {handle.run_id} ({profile.tool})", bold=True))
    try:
        for event in reader.follow():
            show_event(app, event, secrets_env, handle.run_id)
    except KeyboardInterrupt:
        click.echo(f"\ndetached: the run continues; `animus agent stop {handle.run_id}` ends it", err=True)
        sys.exit(130)
    outcome = reader.outcome()
    exit_record = reader.handle.exit_record()
    summary = _summary(handle.run_id, profile.tool, outcome, exit_record.duration_secs if exit_record else None)
    if app.json_output:
        json_line({"kind": "summary", **summary}, secrets_env)
    else:
        _print_summary(summary, secrets_env)
    if outcome is None or not outcome.ok:
        sys.exit(1)


def _profile(app: AppContext, tool: str | None, agent_id: str | None) -> AgentProfile:
    from animus.agents import AgentProfile, profile_from_config

    if (tool is None) == (agent_id is None):
        raise InvalidInput("give exactly one of --tool or --agent", hint="e.g. --tool claude, or --agent default")
    if tool is not None:
        return AgentProfile(tool=tool)
    from animus.config import load_config

    project = app.project()
    config = load_config(project)
    if agent_id not in config.agents:
        known = ", ".join(sorted(config.agents)) or "none"
        raise NotFound(f"no agent {agent_id!r} in the configuration (have: {known})")
    return profile_from_config(config.agents[agent_id], config.mcp_servers, root=project.root)


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _summary(run_id: str, tool: str, outcome: Outcome | None, duration: float | None) -> dict[str, Any]:
    if outcome is None:
        return {"run_id": run_id, "tool": tool, "status": "running"}
    data = outcome.to_dict()
    decision = data.pop("decision")
    data.pop("final_text", None)
    return {
        "run_id": run_id,
        "tool": tool,
        **data,
        "verdict": decision.get("verdict"),
        "decision": decision,
        "duration_secs": duration,
    }


def _print_summary(summary: dict[str, Any], secrets_env: Mapping[str, str]) -> None:
    status = summary.get("status")
    color = {"ok": "green", "failed": "red", "rate_limited": "yellow", "killed": "red"}.get(str(status), "white")
    decision = summary.get("decision") or {}
    verdict = summary.get("verdict") or f"none ({decision.get('reason')})"
    cost = summary.get("cost_usd")
    duration = summary.get("duration_secs")
    lines = [
        click.style(f"outcome: {status}", fg=color, bold=True) + f" — {summary.get('reason')}",
        f"verdict: {verdict}"
        + (
            f" (confidence {decision.get('confidence')}, risk {decision.get('risk')})" if summary.get("verdict") else ""
        ),
        f"tokens: {summary.get('input_tokens', 0)} in / {summary.get('output_tokens', 0)} out",
        f"cost: {f'${cost:.4f}' if cost is not None else 'n/a'}",
        f"duration: {f'{duration:.1f}s' if duration is not None else 'n/a'}",
        f"session: {summary.get('session_id') or 'n/a'}",
        f"run: {summary.get('run_id')}",
    ]
    if summary.get("resets_at"):
        lines.insert(1, f"resets at: {summary['resets_at']}")
    for line in lines:
        click.echo(_redact(line, secrets_env))


# -- rendering --------------------------------------------------------------------------------------
def _redact(text: str, env: Mapping[str, str]) -> str:
    from animus.procs import redact

    return redact(text, env)


def json_line(payload: dict[str, Any], secrets_env: Mapping[str, str]) -> None:
    """One JSONL line on stdout, secrets masked."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    sys.stdout.write(_redact(text, secrets_env) + "\n")
    sys.stdout.flush()


def _one_line(text: str, width: int = _TEXT_WIDTH) -> str:
    flat = " ⏎ ".join(part for part in text.strip().splitlines() if part.strip())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_event(event: AgentEvent) -> str | None:
    """One human line per event (None for events not worth a line)."""
    kind, data = event
    if kind == "session":
        return click.style(
            f"● session {data.get('id')}" + (f" ({data['model']})" if data.get("model") else ""), fg="cyan"
        )
    if kind == "text":
        return "  " + _one_line(str(data.get("text") or "")) if str(data.get("text") or "").strip() else None
    if kind == "thinking":
        return click.style("  … " + _one_line(str(data.get("text") or "")), dim=True)
    if kind == "tool_call":
        args = data.get("input")
        shown = json.dumps(args, ensure_ascii=False) if not isinstance(args, str) else args
        return click.style(f"→ {data.get('name')} ", fg="blue") + _one_line(shown, 160)
    if kind == "tool_result":
        mark = click.style("←", fg="green" if data.get("ok") else "red")
        return f"{mark} " + _one_line(str(data.get("output") or ""), 160)
    if kind == "usage":
        return None
    if kind == "rate_limit":
        return click.style(f"⏳ rate limit {data.get('status')} (resets at {data.get('resets_at')})", fg="yellow")
    if kind == "error":
        style = {"fg": "red"} if data.get("fatal") else {"fg": "yellow"}
        return click.style(f"✗ {_one_line(str(data.get('message')))}", **style)  # type: ignore[arg-type]
    if kind == "result":
        word = "ok" if data.get("ok") else "failed"
        return click.style(f"■ result {word}: {_one_line(str(data.get('reason')), 120)}", bold=True)
    if kind == "raw":
        return click.style("  · " + _one_line(str(data.get("line") or ""), 120), dim=True)
    return None


def show_event(app: AppContext, event: AgentEvent, secrets_env: Mapping[str, str], run_id: str) -> None:
    """An agent event as one human line, or as a JSONL line naming its run (``--json``)."""
    if app.json_output:
        json_line({**event.to_dict(), "run_id": run_id}, secrets_env)
        return
    line = render_event(event)
    if line is not None:
        click.echo(_redact(line, secrets_env))


# -- status / stop / list ---------------------------------------------------------------------------
@agent.command(
    "status", epilog=example("animus agent status run-20260823T105001Z-a1b2c3", "animus agent status RUN --json")
)
@click.argument("run_id")
@common_options
def status_cmd(app: AppContext, run_id: str) -> None:
    """Show a run's state, pids, exit record and outcome."""
    from animus.agents import read_run

    project = app.project()
    view = read_run(run_id, project.runs_dir)
    data = view.to_dict()
    data["pid"] = _pid_dict(run_id, project.runs_dir)
    if data.get("outcome"):
        data["outcome"].pop("final_text", None)
    secrets_env = dict(os.environ)

    def human(d: dict[str, Any]) -> None:
        out = d.get("outcome") or {}
        exit_rec = d.get("exit") or {}
        rows = [
            ("run", d["run_id"]),
            ("tool", d["tool"]),
            ("state", d["status"]),
            ("pids", _pid_text(d.get("pid"))),
            (
                "exit",
                f"{exit_rec.get('reason')} code={exit_rec.get('exit_code')} signal={exit_rec.get('signal')}"
                if exit_rec
                else "—",
            ),
            ("outcome", f"{out.get('status')} — {out.get('reason')}" if out else "—"),
            ("verdict", (out.get("decision") or {}).get("verdict") or (out.get("decision") or {}).get("reason", "—")),
            ("tokens", f"{out.get('input_tokens')} in / {out.get('output_tokens')} out" if out else "—"),
            ("cost", f"${out['cost_usd']:.4f}" if out.get("cost_usd") is not None else "n/a"),
            ("session", out.get("session_id") or d["labels"].get("session_id") or "—"),
        ]
        for key, value in rows:
            click.echo(_redact(f"{key:>8}: {value}", secrets_env))

    app.emit(json.loads(_redact(json.dumps(data, default=str), secrets_env)), human=human)


def _pid_dict(run_id: str, runs_dir: Path) -> dict[str, Any] | None:
    from animus.procs import attach

    info = attach(run_id, runs_dir).pid_info()
    if info is None:
        return None
    return {
        "supervisor_pid": info.supervisor_pid,
        "agent_pid": info.agent_pid,
        "agent_pgid": info.agent_pgid,
        "started_at": info.started_at,
    }


def _pid_text(pid: Any) -> str:
    if not pid:
        return "—"
    return f"agent {pid.get('agent_pid')} (pgid {pid.get('agent_pgid')}), supervisor {pid.get('supervisor_pid')}"


@agent.command("stop", epilog=example("animus agent stop run-20260823T105001Z-a1b2c3"))
@click.argument("run_id")
@click.option("--grace", type=float, default=None, help="Seconds between SIGTERM and SIGKILL (default: the run's).")
@common_options
def stop_cmd(app: AppContext, run_id: str, grace: float | None) -> None:
    """Stop a run and its whole process tree (SIGTERM, then SIGKILL after the grace period)."""
    from animus.procs import stop

    record = stop(run_id, app.project().runs_dir, grace=grace)
    data = {"run_id": run_id, "exit": record.to_dict() if record is not None else None}
    app.emit(
        data,
        human=lambda d: click.echo(
            f"{run_id}: " + (f"ended ({d['exit']['reason']})" if d["exit"] else "stop requested")
        ),
    )


@agent.command("list", epilog=example("animus agent list", "animus agent list --json"))
@common_options
def list_cmd(app: AppContext) -> None:
    """List agent runs of this project, newest first."""
    from animus.procs import list_runs

    runs = sorted(list_runs(app.project().runs_dir), key=lambda r: r.created_at, reverse=True)
    data = [
        {
            "run_id": r.run_id,
            "status": r.status,
            "created_at": r.created_at,
            "tool": r.labels.get("tool"),
            "exit_reason": r.exit_reason,
            "labels": r.labels,
        }
        for r in runs
    ]

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no agent runs yet: `animus agent run --tool claude --prompt …` starts one")
            return
        from rich.table import Table

        from animus.cli.app import console

        table = Table()
        table.add_column("run", no_wrap=True)
        for name in ("tool", "state", "exit", "created"):
            table.add_column(name)
        for row in rows:
            table.add_row(
                row["run_id"],
                str(row["tool"] or "—"),
                row["status"],
                str(row["exit_reason"] or "—"),
                str(row["created_at"])[:19],
            )
        console().print(table)

    app.emit(data, human=human)

"""`animus logs ID`: the output of an agent run, of every phase of a workflow run, or of a task's latest run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from animus.cli.agent import json_line, show_event
from animus.cli.app import AppContext, common_options, example, project_secrets
from animus.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from animus.domain.runs import PhaseRun, WorkflowRun


@click.command(
    "logs",
    epilog=example(
        "animus logs TASK-3                      # every phase of the task's latest run",
        "animus logs TASK-3.standard.1 --phase tests",
        "animus logs TASK-3.standard.1-implementation-1 --follow   # one agent run",
        "animus logs RUN --raw",
        "animus logs TASK-3 --json               # JSONL: a `phase` header line, then its lines",
    ),
)
@click.argument("run_id", metavar="ID")
@click.option("--phase", default=None, help="Only this phase's attempts (a workflow run or task id).")
@click.option("--follow", "-f", is_flag=True, help="Keep following until the agent run ends (an agent run id).")
@click.option("--raw", is_flag=True, help="The agent's raw stdout bytes instead of normalized events.")
@common_options
def logs(app: AppContext, run_id: str, phase: str | None, follow: bool, raw: bool) -> None:
    """Show output: an agent run's, a workflow run's phases in order, or a task's latest run's.

    ID is an agent run id (`<run>-<phase>-<attempt>`, `animus agent list`), a workflow run id
    (`TASK-3.standard.1`, `animus workflow list`) or a task id (its latest run). A run's agent
    phases show their agent runs' events, its command phases their full stdout and stderr; each
    attempt under a header naming phase and attempt.
    """
    runs_dir = app.project().runs_dir
    secrets_env = project_secrets(app)
    try:
        if (runs_dir / run_id).is_dir():
            if phase is not None:
                raise InvalidInput(f"{run_id} is an agent run; --phase selects phases of a workflow run or task")
            _agent_run(app, run_id, runs_dir, secrets_env, follow=follow, raw=raw)
            return
        run = _workflow_run(app, run_id, runs_dir)
        if follow:
            raise InvalidInput(
                "--follow follows one agent run",
                hint=f"follow the whole run live with `animus run {run.task_id}`, or one agent run with `animus logs <agent-run-id> --follow`",
            )
        phases = app.store().phase_runs(run.id)
        if phase is not None:
            phases = [p for p in phases if p.phase == phase]
            if not phases:
                known = ", ".join(dict.fromkeys(p.phase for p in app.store().phase_runs(run.id))) or "none yet"
                raise NotFound(f"run {run.id} has no attempt of phase {phase!r} (phases run: {known})")
        for attempt in phases:
            _phase(app, run, attempt, runs_dir, secrets_env, raw=raw)
    except KeyboardInterrupt:
        sys.exit(130)


def _workflow_run(app: AppContext, wanted: str, runs_dir: Path) -> WorkflowRun:
    """The workflow run ``wanted`` names: a run id, or a task id (its latest run)."""
    from animus.domain.tasks import TASK_ID_RE

    store = app.store()
    if TASK_ID_RE.match(wanted.strip().upper()):
        task = store.get_task(wanted.strip().upper())  # an unknown task: NotFound, exit 3
        latest = store.list_runs(task_id=task.id, limit=1)
        if not latest:
            raise NotFound(f"{task.id} has no workflow run yet", hint=f"start one with `animus run {task.id}`")
        return latest[0]
    try:
        return store.get_run(wanted)
    except NotFound:
        raise NotFound(
            f"no agent run, workflow run or task {wanted!r}",
            hint=f"`animus workflow list` shows workflow runs, `animus agent list` the agent runs in {runs_dir}",
        ) from None


def _agent_run(
    app: AppContext, run_id: str, runs_dir: Path, secrets_env: dict[str, str], *, follow: bool, raw: bool
) -> None:
    from animus.agents import RunReader
    from animus.procs import redact

    reader = RunReader(run_id, runs_dir)
    if raw:
        out = sys.stdout.buffer
        for line, _ in reader.handle.follow(0, wait=follow):
            text = line.decode("utf-8", "surrogateescape")
            out.write(redact(text, secrets_env).encode("utf-8", "surrogateescape"))
            out.flush()
        return
    events = reader.follow() if follow else iter(reader.poll())
    for event in events:
        show_event(app, event, secrets_env, run_id)


def _phase(
    app: AppContext, run: WorkflowRun, attempt: PhaseRun, runs_dir: Path, secrets_env: dict[str, str], *, raw: bool
) -> None:
    """One phase attempt: a header, then its agent runs' events or its command's output."""
    from animus.procs import redact

    agent_runs = _agent_runs_of(attempt, runs_dir) if attempt.mode == "agent" else []
    log = app.project().layout.command_log(attempt.attempt_id) if attempt.mode == "command" else None
    header = {
        "kind": "phase",
        "run_id": run.id,
        "seq": attempt.seq,
        "phase": attempt.phase,
        "attempt": attempt.attempt,
        "mode": attempt.mode,
        "status": attempt.status.value,
        "agent_runs": agent_runs,
        "log": str(log) if log is not None and log.is_file() else None,
    }
    if app.json_output:
        json_line(header, secrets_env)
    else:
        runs = f" · agent run {', '.join(agent_runs)}" if agent_runs else ""
        click.echo(
            click.style(
                f"── {attempt.phase} #{attempt.attempt} ({attempt.mode}, {attempt.status.value}){runs}", bold=True
            )
        )
    for agent_run in agent_runs:
        if len(agent_runs) > 1 and not app.json_output:
            click.echo(click.style(f"   {agent_run}", dim=True))
        _agent_run(app, agent_run, runs_dir, secrets_env, follow=False, raw=raw)
    if log is None:
        return
    if log.is_file():
        text, source = log.read_text(encoding="utf-8", errors="replace"), "log"
    else:  # recorded before command logs were kept: the phase row's excerpt is all there is
        text, source = attempt.output_excerpt or "", "excerpt"
    text = redact(text, secrets_env)
    if app.json_output:
        json_line(
            {
                "kind": "command_output",
                "run_id": run.id,
                "phase": attempt.phase,
                "attempt": attempt.attempt,
                "source": source,
                "text": text,
            },
            secrets_env,
        )
        return
    if source == "excerpt":
        click.echo(click.style("   (no command log was kept for this attempt: its recorded excerpt follows)", dim=True))
    click.echo(text, nl=not text.endswith("\n"))


def _agent_runs_of(attempt: PhaseRun, runs_dir: Path) -> list[str]:
    """``<attempt id>`` and its retries ``<attempt id>.<n>``, in order, as far as their run dirs exist."""
    first = attempt.attempt_id
    retries: list[tuple[int, str]] = []
    try:
        names = os.listdir(runs_dir)
    except OSError:
        names = []
    for name in names:
        rest = name[len(first) + 1 :] if name.startswith(first + ".") else ""
        if rest.isdigit() and (runs_dir / name).is_dir():
            retries.append((int(rest), name))
    found = [first] if (runs_dir / first).is_dir() else []
    return found + [name for _n, name in sorted(retries)]

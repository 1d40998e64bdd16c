"""`animus run TASK`: run a task's workflow to the end in the foreground, with live progress."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.cli.task import TASK_ID
from animus.domain.errors import AnimusError
from animus.domain.runs import Verdict


class Progress:
    """Renders engine events: readable lines, or one JSON object per line with --json.

    Events marked ``history`` (what a resumed or re-attached run had recorded before) are dimmed
    under a "history" header and prefixed ``↻``; ``run.continues`` says where the run goes on.
    """

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.phases: dict[int, dict[str, Any]] = {}
        self.history_shown = False

    def __call__(self, event: dict[str, Any]) -> None:
        if self.app.json_output:
            self.app.event(event)
            return
        from rich.text import Text

        out = console()
        lines = self._lines(event)
        if not event.get("history"):
            for line in lines:
                out.print(line)
            return
        if lines and not self.history_shown:
            self.history_shown = True
            out.print(Text("  history (already recorded, not run again):", style="dim"))
        for line in lines:
            line.stylize("dim")
            out.print(Text.assemble(("  ↻ ", "dim"), line[2:] if line.plain.startswith("  ") else line))

    def _lines(self, event: dict[str, Any]) -> list[Any]:
        from rich.text import Text

        kind = event["event"]
        if kind == "run.started":
            return [Text.assemble(("▶ ", "bold cyan"), (event["run_id"], "bold"), f"  workflow {event['workflow']}")]
        if kind == "run.continues":
            where = f"{event['phase']} #{event['attempt']}" if event.get("phase") else "landing"
            return [Text.assemble(("▶ continuing at ", "bold cyan"), (where, "bold"), " (already under way)" if event.get("under_way") else "")]
        if kind == "phase.started":
            self.phases[event["seq"]] = event
            if event["status"] == "skipped":
                return []
            return [Text.assemble("  ", (f"{event['phase']} #{event['attempt']}", "bold"), f" ({event['mode']}) …")]
        if kind == "agent":
            line = _agent_line(event)
            return [Text("      · " + line, style="dim")] if line else []
        if kind == "decision":
            style = {Verdict.ADVANCE: "green", Verdict.SKIP: "dim", Verdict.REWORK: "yellow", Verdict.FAIL: "red"}.get(event["effective"], "")
            conf = f" ({event['confidence']}, {event['risk']})" if event.get("confidence") is not None and event["source"] == "agent" else ""
            target = f" → {event['target_phase']}" if event.get("target_phase") and event["effective"] == Verdict.REWORK else ""
            return [Text.assemble("  ", (f"{event['phase']} #{event['attempt']}", "bold"), " → ", (event["effective"], style), target, conf, ": ",
                                  event["reason"][:300])]
        if kind == "command.output" and event["status"] not in ("advanced", "skipped"):
            return _command_lines(event)
        if kind == "run.status" and event["status"] == "waiting_pr":
            return [Text.assemble(("  ⏳ ", "yellow"), "waiting on its pull request ", (event.get("pr_url") or "", "bold"),
                                  " for checks, reviews and the merge (each poll, or sooner when a webhook says the PR changed)")]
        if kind == "phase.status" and event["status"] == "waiting":
            return [Text.assemble(("  ⏸ ", "yellow"), f"{event['phase']} waits for a human: ",
                                  (f"animus workflow approve {event['run_id']} --phase {event['phase']}", "bold"), "  (or reject)")]
        return []  # run.status: the summary says it


def _command_lines(event: dict[str, Any]) -> list[Any]:
    """A failed command phase's last lines, its failing tests and where the whole output is."""
    from rich.text import Text

    lines = [Text("      │ " + line[:300], style="dim") for line in event.get("tail") or []]
    if event.get("failing_tests"):
        lines.append(Text.assemble("      failing tests: ", (", ".join(event["failing_tests"][:20]), "red")))
    if event.get("log"):
        lines.append(Text(f"      full output: animus logs {event['run_id']} --phase {event['phase']}", style="dim"))
    return lines


def _agent_line(event: dict[str, Any]) -> str | None:
    kind = event.get("kind")
    if kind == "tool_call":
        args = event.get("input") or {}
        hint = next((str(args[k]) for k in ("file_path", "path", "command", "filePath", "pattern") if k in args), "")
        return f"{event.get('name')} {hint}"[:160]
    if kind == "text":
        text = (event.get("text") or "").strip().splitlines()
        return text[0][:160] if text else None
    if kind == "error":
        return f"error: {event.get('message', '')[:160]}"
    if kind == "rate_limit":
        return f"rate limited ({event.get('status')}), resets at {event.get('resets_at')}"
    return None


def summarize(app: AppContext, run: Any, phases: list[Any]) -> None:
    data = {**run.to_dict(), "phases": [p.to_dict() for p in phases]}

    def human(d: dict[str, Any]) -> None:
        from rich.text import Text

        ok = d["status"] == "completed"
        style = "green" if ok else "red"
        reworks = sum(1 for p in d["phases"] if p["status"] == "rework")
        pr_reworks = int(((d.get("state") or {}).get("pr") or {}).get("reworks") or 0)
        asked = f" (+{pr_reworks} asked for by the PR)" if pr_reworks else ""
        tail = (f"{len(d['phases'])} phase run(s), {reworks} rework(s){asked}, {d['input_tokens'] + d['output_tokens']} tokens, "
                f"${d['cost_usd']:.4f}")
        landed = landing_text(d)
        landed = f" {landed}" if landed else ""
        console().print(Text.assemble(("✔ " if ok else "✘ ", style), (d["status"], f"bold {style}"), landed, f"  ({tail})"))
        if not ok and d.get("failure_reason"):
            console().print(Text(f"  reason: {d['failure_reason'][:500]}"))
            console().print(Text(f"  resume with: animus workflow resume {d['id']}", style="dim"))

    app.emit(data, human)
    if run.status.value != "completed":
        raise AnimusError(f"run {run.id} ended {run.status.value}: {run.failure_reason or ''}".strip(), details={"run_id": run.id, "status": run.status.value})


def landing_text(run: dict[str, Any]) -> str:
    """How a run's work landed, in words: ``landed <sha>``, ``merged PR <url> as <sha>``, ``PR <url>``, ``no changes: …``, or ""."""
    landing = (run.get("state") or {}).get("landing")
    if landing == "nothing_to_land":
        return "no changes: nothing landed"
    if landing == "pr_merged" and run.get("pr_url"):
        return f"merged PR {run['pr_url']}" + (f" as {run['landed_sha'][:10]}" if run.get("landed_sha") else "")
    if run.get("status") == "waiting_pr" and run.get("pr_url"):
        return f"waiting on PR {run['pr_url']}"
    if run.get("landed_sha"):
        return f"landed {run['landed_sha'][:10]}"
    if run.get("pr_url"):
        return f"PR {run['pr_url']}"
    return ""


def run_in_foreground(app: AppContext, run: Any) -> None:
    """Execute in this process; while a daemon runs, hand a prepared run (resume, retry) to it and follow."""
    from animus.daemon import read_info
    from animus.engine import EngineContext, execute_run

    project = app.project()
    store = app.store()
    if not callable(run) and read_info(project.state_dir) is not None:
        store.add_dispatched(run.task_id, run.id, store.get_task(run.task_id).priority.rank)
        follow_daemon_run(app, run.task_id, None, {})
        return
    ctx = EngineContext(project.root, project.state_dir, store.url)
    try:
        final = execute_run(ctx, store, run, Progress(app))
    except KeyboardInterrupt:
        click.echo(
            "\ninterrupted: the run is paused where it stopped (a running agent keeps running detached).\n"
            "continue it with `animus run TASK` (or `animus workflow resume RUN`); stop it with `animus workflow cancel RUN`",
            err=True,
        )
        raise SystemExit(130) from None
    summarize(app, final, store.phase_runs(final.id))


def follow_daemon_run(app: AppContext, task_id: str, workflow: str | None, values: dict[str, str]) -> None:
    """The daemon runs it: enqueue (unless queued or active) and follow; Ctrl-C stops following only."""
    from animus.daemon import enqueue_and_follow

    project = app.project()
    store = app.store()
    progress = Progress(app)

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "queued" and not app.json_output:
            where = "already queued" if not event["new"] else "queued"
            console().print(f"{where} for the daemon ({event['ahead']} ahead); following…")
            return
        progress(event)

    try:
        final = enqueue_and_follow(store, project.root, project.state_dir, task_id, emit, workflow=workflow, variables=values or None)
    except KeyboardInterrupt:
        click.echo("\nstopped following; the daemon keeps running the task (`animus status` shows it)", err=True)
        raise SystemExit(130) from None
    summarize(app, final, store.phase_runs(final.id))


@click.command(
    "run",
    epilog=example(
        "animus run TASK-3",
        "animus run TASK-3 --workflow demo --var target=main",
        "animus run TASK-3 --json   # JSONL progress events, then the run",
    ),
)
@click.argument("task_id", type=TASK_ID)
@click.option("--workflow", default=None, help="Workflow to use (default: the task's, else default_workflow).")
@click.option("--var", "variables", multiple=True, metavar="K=V", help="Workflow variable (repeatable).")
@common_options
def run(app: AppContext, task_id: str, workflow: str | None, variables: tuple[str, ...]) -> None:
    """Run a task's workflow to the end (resumes its interrupted run instead of starting another).

    While `animus daemon` runs, the task is enqueued there and its progress followed instead.
    """
    from animus.config import load_config
    from animus.daemon import read_info
    from animus.engine import parse_vars, prepare_run

    config = load_config(app.project())
    values = parse_vars(variables)
    task = app.store().get_task(task_id)  # an unknown task is exit 3 before anything else
    # an unknown workflow (exit 3) or a refused variable (exit 2) is reported here, not in the daemon's log
    config.workflow(workflow or task.workflow or config.default_workflow).check_variables(values)
    if read_info(app.project().state_dir) is not None:
        follow_daemon_run(app, task_id, workflow, values)
        return

    def prepare() -> Any:
        run_, _created = prepare_run(app.store(), config, task_id, workflow=workflow, variables=values, root=app.project().root)
        return run_

    run_in_foreground(app, prepare)

"""`animus queue …`: enqueue, list, hold, release and drop tasks waiting for the daemon."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.cli.task import TASK_ID


@click.group("queue", epilog=example("animus queue enqueue TASK-3", "animus queue list", "animus queue hold TASK-3"))
def queue() -> None:
    """Enqueue, hold, release and drop tasks for the daemon."""


def _entry_line(d: dict[str, Any], verb: str) -> None:
    # the entry's status only when the verb does not already say it: `TASK-2 queued`, `TASK-2 released (queued)`
    said = [] if d["status"] == verb.split()[-1] else [d["status"]]
    details = " ".join([*said, *([f"run {d['run_id']}"] if d.get("run_id") else [])])
    console().print(f"{d['task_id']} {verb}" + (f" ({details})" if details else ""))


@queue.command("enqueue", epilog=example(
    "animus queue enqueue TASK-3", "animus queue enqueue TASK-3 --workflow quick --var target=main"))
@click.argument("task_id", type=TASK_ID)
@click.option("--workflow", default=None, help="Workflow to run (default: the task's, else default_workflow).")
@click.option("--var", "variables", multiple=True, metavar="K=V", help="Workflow variable (repeatable).")
@common_options
def enqueue(app: AppContext, task_id: str, workflow: str | None, variables: tuple[str, ...]) -> None:
    """Queue a task for the daemon (priority order, FIFO within a priority; at most once per task)."""
    from animus import services
    from animus.config import load_config_if_present
    from animus.engine import parse_vars

    values = parse_vars(variables)
    # a named workflow and variables are checked now, not at dispatch; a plain enqueue works while the config is broken
    config = load_config_if_present(app.project()) if workflow or values else None
    queued = services.enqueue(app.store(), task_id, workflow=workflow, variables=values, source="cli", config=config)
    created = queued.created
    paused = _dispatch_paused(app)

    def human(d: dict[str, Any]) -> None:
        _entry_line(d, "queued" if created else "was already queued")
        if paused:
            from animus.cli.daemon import dispatch_paused

            click.echo(f"note: {dispatch_paused(paused)}", err=True)

    app.emit({**queued.entry.to_dict(), "created": created, "dispatch_paused": paused}, human)


def _dispatch_paused(app: AppContext) -> str | None:
    """The running daemon's reason to start nothing new (an invalid configuration on disk), if any."""
    from animus.daemon import read_info

    info = read_info(app.project().state_dir)
    return info.config_error if info is not None else None


@queue.command("list", epilog=example("animus queue list", "animus queue list --status held --json"))
@click.option("--status", "statuses", multiple=True, type=click.Choice(["queued", "held", "dispatched"]), help="Only these (repeatable).")
@common_options
def list_(app: AppContext, statuses: tuple[str, ...]) -> None:
    """Entries in dispatch order: priority (critical first), then FIFO."""
    from animus import services

    entries = [e.to_dict() for e in services.list_queue(app.store(), statuses=statuses)]

    def human(items: list[dict[str, Any]]) -> None:
        from rich.table import Table

        if not items:
            console().print("the queue is empty")
            return
        names = {0: "critical", 1: "high", 2: "medium", 3: "low"}
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for column in ("TASK", "STATUS", "PRIORITY", "WORKFLOW", "RUN", "SOURCE", "ENQUEUED"):
            table.add_column(column)
        for e in items:
            table.add_row(e["task_id"], e["status"], names.get(e["priority_rank"], str(e["priority_rank"])), e["workflow"] or "-",
                          e["run_id"] or "-", e["source"], e["enqueued_at"][:19])
        console().print(table)

    app.emit(entries, human)


@queue.command("hold", epilog=example("animus queue hold TASK-3"))
@click.argument("task_id", type=TASK_ID)
@common_options
def hold(app: AppContext, task_id: str) -> None:
    """Keep a queued task from being dispatched (a dispatched one already runs: drop it to cancel)."""
    from animus import services

    entry = services.hold(app.store(), task_id)
    app.emit(entry.to_dict(), lambda d: _entry_line(d, "held"))


@queue.command("release", epilog=example("animus queue release TASK-3"))
@click.argument("task_id", type=TASK_ID)
@common_options
def release(app: AppContext, task_id: str) -> None:
    """Let a held task be dispatched again (it keeps its place)."""
    from animus import services

    entry = services.release(app.store(), task_id)
    app.emit(entry.to_dict(), lambda d: _entry_line(d, "released"))


@queue.command("drop", epilog=example("animus queue drop TASK-3"))
@click.argument("task_id", type=TASK_ID)
@common_options
def drop(app: AppContext, task_id: str) -> None:
    """Remove a task from the queue; if it was dispatched, cancel its run (the worktree is kept)."""
    from animus import services

    dropped = services.drop_queued(app.store(), app.project().runs_dir, task_id)
    cancelled = dropped.cancelled_run
    data = {**dropped.entry.to_dict(), "dropped": True, "cancelled_run": cancelled}
    app.emit(data, lambda d: console().print(f"{task_id} dropped" + (f"; run {cancelled} cancelled" if cancelled else "")))

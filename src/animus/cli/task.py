"""`animus task …`: create, list, inspect, update, order and delete tasks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.domain.errors import InvalidInput
from animus.domain.tasks import Priority, Task, TaskStatus, TaskType, parse_enum, parse_task_id

if TYPE_CHECKING:
    # click 8.2+ types a parameter by its value; the runtime bases stay unsubscripted for click 8.1
    _ChoiceBase = click.Choice[Any]
    _ParamTypeBase = click.ParamType[str]
else:
    _ChoiceBase = click.Choice
    _ParamTypeBase = click.ParamType


class EnumChoice(_ChoiceBase):
    """A choice of enum values, case-insensitive, accepting `in-progress` for `in_progress`."""

    def __init__(self, enum_cls: type[Any]) -> None:
        self.enum_cls = enum_cls
        super().__init__([m.value for m in enum_cls], case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.enum_cls):
            return value
        return parse_enum(self.enum_cls, str(value).replace("-", "_") if self.enum_cls is TaskStatus else str(value), (param.opts[0] if param and param.opts else (param.name if param else "value")))


class TaskId(_ParamTypeBase):
    name = "TASK-ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return parse_task_id(str(value))


TASK_ID = TaskId()


def _read_text(value: str | None, file: str | None, what: str) -> str | None:
    if value is not None and file is not None:
        raise InvalidInput(f"give --{what} or --{what}-file, not both")
    if file is None:
        return value
    if file == "-":
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    try:
        with open(file, "rb") as fh:
            return fh.read().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise InvalidInput(f"cannot read --{what}-file {file!r}: {exc.strerror}") from exc


# -- rendering --------------------------------------------------------------------------------------
_STATUS_STYLE = {
    "backlog": "dim",
    "ready": "cyan",
    "in_progress": "yellow",
    "blocked": "red",
    "done": "green",
    "cancelled": "dim strike",
}


def _render_table(tasks: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not tasks:
        console().print("no tasks match")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("ID", "STATUS", "PRIORITY", "TYPE", "TITLE", "DEPS", "LABELS"):
        table.add_column(column, overflow="fold" if column == "TITLE" else "ellipsis")
    for t in tasks:
        table.add_row(
            t["id"],
            Text(t["status"], style=_STATUS_STYLE.get(t["status"], "")),
            t["priority"],
            t["type"],
            Text(t["title"].splitlines()[0] if t["title"].strip() else t["title"]),
            Text(",".join(t["dependencies"])),
            Text(",".join(t["labels"])),
        )
    console().print(table)


def _render_task(t: dict[str, Any]) -> None:
    from rich.text import Text

    out = console()
    out.print(Text.assemble((t["id"], "bold"), "  ", (t["status"], _STATUS_STYLE.get(t["status"], ""))))
    out.print(Text(t["title"]))
    rows = [
        ("type", t["type"]),
        ("priority", t["priority"]),
        ("depends on", ", ".join(t["dependencies"]) or "-"),
        ("labels", ", ".join(t["labels"]) or "-"),
        ("workflow", t["workflow"] or "(default)"),
        ("created", t["created_at"]),
        ("updated", t["updated_at"]),
    ]
    if t.get("blocked_reason"):
        rows.append(("blocked", t["blocked_reason"]))
    for key, value in rows:
        out.print(Text.assemble((f"  {key:<11}", "dim"), value))
    if t["description"]:
        out.print()
        out.print(Text(t["description"]))


def _one(app: AppContext, task: Task, verb: str | None = None) -> None:
    def human(data: dict[str, Any]) -> None:
        if verb:
            console().print(f"{verb} {data['id']}")
        else:
            _render_task(data)

    app.emit(task.to_dict(), human)


# -- commands ---------------------------------------------------------------------------------------
@click.group(epilog=example("animus task create --title 'Add rate limiting' --priority high", "animus task list --status ready"))
def task() -> None:
    """Create, list, update and order tasks."""


@task.command(
    "create",
    epilog=example(
        "animus task create --title 'Fix the login redirect' --type bugfix --priority high --label auth",
        "animus task create --title 'Write docs' --description-file notes.md --depends-on TASK-3 --status backlog",
    ),
)
@click.option("--title", required=True, help="One-line title (any text; stored byte-exact).")
@click.option("--description", default=None, help="Longer description.")
@click.option("--description-file", default=None, metavar="PATH", help="Read the description from a file ('-' = stdin).")
@click.option("--type", "type_", type=EnumChoice(TaskType), default="feature", show_default=True, help="Kind of work.")
@click.option("--priority", type=EnumChoice(Priority), default="medium", show_default=True, help="Urgency.")
@click.option(
    "--status",
    type=click.Choice(["backlog", "ready"]),
    default="ready",
    show_default=True,
    help="Initial status: ready (can be picked up now) or backlog (parked).",
)
@click.option("--label", "labels", multiple=True, help="A label (repeatable).")
@click.option("--depends-on", "depends_on", multiple=True, type=TASK_ID, help="A task that must be done first (repeatable).")
@click.option("--workflow", default=None, help="Workflow to run this task with (default: the config's default_workflow).")
@common_options
def create(
    app: AppContext,
    title: str,
    description: str | None,
    description_file: str | None,
    type_: TaskType,
    priority: Priority,
    status: str,
    labels: tuple[str, ...],
    depends_on: tuple[str, ...],
    workflow: str | None,
) -> None:
    """Create a task (ready to be picked up, unless --status backlog)."""
    from animus import services
    from animus.store import NewTask

    text = _read_text(description, description_file, "description") or ""
    new = NewTask(
        title=title,
        description=text,
        type=type_,
        priority=priority,
        status=TaskStatus(status),
        labels=labels,
        dependencies=depends_on,
        workflow=workflow,
    )
    _one(app, services.create_task(app.store(), new), verb="created")


@task.command(
    "list",
    epilog=example(
        "animus task list --status ready --priority high",
        "animus task list --label auth --text login --sort updated --limit 20 --json",
    ),
)
@click.option("--status", "statuses", multiple=True, type=EnumChoice(TaskStatus), help="Only these statuses (repeatable).")
@click.option("--type", "types", multiple=True, type=EnumChoice(TaskType), help="Only these types (repeatable).")
@click.option("--priority", "priorities", multiple=True, type=EnumChoice(Priority), help="Only these priorities (repeatable).")
@click.option("--label", "labels", multiple=True, help="Only tasks with this label (repeatable: all must match).")
@click.option("--text", default=None, help="Case-insensitive substring of title or description.")
@click.option("--sort", type=click.Choice(["priority", "id", "created", "updated", "title", "status"]), default="priority", show_default=True)
@click.option("--desc", is_flag=True, help="Reverse the sort order.")
@click.option("--limit", type=click.IntRange(min=0), default=200, show_default=True, help="At most N tasks; 0 = no limit.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N matches.")
@common_options
def list_(
    app: AppContext,
    statuses: tuple[TaskStatus, ...],
    types: tuple[TaskType, ...],
    priorities: tuple[Priority, ...],
    labels: tuple[str, ...],
    text: str | None,
    sort: str,
    desc: bool,
    limit: int,
    offset: int,
) -> None:
    """List tasks, filtered and sorted (most urgent first by default)."""
    from animus.store import TaskQuery

    query = TaskQuery(
        statuses=statuses,
        types=types,
        priorities=priorities,
        labels=labels,
        text=text,
        sort=sort,
        descending=desc,
        limit=limit or None,
        offset=offset,
    )
    tasks = [t.to_dict() for t in app.store().list_tasks(query)]
    app.emit(tasks, _render_table)


@task.command("get", epilog=example("animus task get TASK-3", "animus task get 3 --json"))
@click.argument("task_id", type=TASK_ID)
@common_options
def get(app: AppContext, task_id: str) -> None:
    """Show one task in full (with the upstream issue or file it came from, if any)."""
    store = app.store()
    data = store.get_task(task_id).to_dict()
    link = store.source_item_for_task(task_id)
    data["external"] = link.to_dict() if link is not None else None

    def human(shown: dict[str, Any]) -> None:
        _render_task(shown)
        if shown["external"]:
            ext = shown["external"]
            console().print(f"from:        {ext['source']} {ext['key']} {ext['url']}".rstrip(), markup=False, highlight=False)

    app.emit(data, human)


@task.command(
    "update",
    epilog=example("animus task update TASK-3 --priority critical --add-label urgent", "animus task update TASK-3 --no-workflow"),
)
@click.argument("task_id", type=TASK_ID)
@click.option("--title", default=None, help="New title.")
@click.option("--description", default=None, help="New description.")
@click.option("--description-file", default=None, metavar="PATH", help="Read the new description from a file ('-' = stdin).")
@click.option("--type", "type_", type=EnumChoice(TaskType), default=None)
@click.option("--priority", type=EnumChoice(Priority), default=None)
@click.option("--workflow", default=None, help="Run this task with another workflow.")
@click.option("--no-workflow", is_flag=True, help="Drop the workflow override.")
@click.option("--add-label", "add_labels", multiple=True, help="Add a label (repeatable).")
@click.option("--remove-label", "remove_labels", multiple=True, help="Remove a label (repeatable).")
@common_options
def update(
    app: AppContext,
    task_id: str,
    title: str | None,
    description: str | None,
    description_file: str | None,
    type_: TaskType | None,
    priority: Priority | None,
    workflow: str | None,
    no_workflow: bool,
    add_labels: tuple[str, ...],
    remove_labels: tuple[str, ...],
) -> None:
    """Change a task's fields (status has its own command)."""
    from animus import services
    from animus.store import TaskPatch

    if workflow is not None and no_workflow:
        raise InvalidInput("give --workflow or --no-workflow, not both")
    patch = TaskPatch(
        title=title,
        description=_read_text(description, description_file, "description"),
        type=type_,
        priority=priority,
        workflow=workflow,
        clear_workflow=no_workflow,
        add_labels=add_labels,
        remove_labels=remove_labels,
    )
    _one(app, services.update_task(app.store(), task_id, patch), verb="updated")


@task.command(
    "status",
    epilog=example("animus task status TASK-3 ready", "animus task status TASK-3 blocked --reason 'waiting on API keys'", "animus task status TASK-3 done --force"),
)
@click.argument("task_id", type=TASK_ID)
@click.argument("status", type=EnumChoice(TaskStatus))
@click.option("--force", is_flag=True, help="Skip the transition table (see docs/cli.md).")
@click.option("--reason", default=None, help="Why (kept as blocked_reason when blocking).")
@common_options
def status(app: AppContext, task_id: str, status: TaskStatus, force: bool, reason: str | None) -> None:
    """Move a task to another status (invalid transitions exit 4 unless --force)."""
    task_ = app.store().set_status(task_id, status, force=force, reason=reason)
    _one(app, task_, verb=f"{task_.status.value}:")


@task.command("delete", epilog=example("animus task delete TASK-3", "animus task delete TASK-3 --force"))
@click.argument("task_id", type=TASK_ID)
@click.option("--force", is_flag=True, help="Also drop other tasks' dependencies on it.")
@common_options
def delete(app: AppContext, task_id: str, force: bool) -> None:
    """Delete a task (its id is never reused)."""
    _one(app, app.store().delete_task(task_id, force=force), verb="deleted")


@task.command("next", epilog=example("animus task next", "animus task next --json"))
@common_options
def next_(app: AppContext) -> None:
    """The most urgent ready task whose dependencies are all done (exit 3 if none)."""
    from animus.domain.errors import NotFound

    found = app.store().next_task()
    if found is None:
        raise NotFound("no ready task with all dependencies done", hint="mark one ready: `animus task status TASK-n ready`")
    _one(app, found)


@task.group("dep", epilog=example("animus task dep add TASK-5 TASK-2", "animus task dep rm TASK-5 TASK-2"))
def dep() -> None:
    """Add or remove dependencies (cycles are refused)."""


@dep.command("add", epilog=example("animus task dep add TASK-5 TASK-2   # TASK-5 waits for TASK-2"))
@click.argument("task_id", type=TASK_ID)
@click.argument("depends_on", type=TASK_ID)
@common_options
def dep_add(app: AppContext, task_id: str, depends_on: str) -> None:
    """Make TASK_ID wait until DEPENDS_ON is done."""
    _one(app, app.store().add_dependency(task_id, depends_on), verb=f"{depends_on} now blocks")


@dep.command("rm", epilog=example("animus task dep rm TASK-5 TASK-2"))
@click.argument("task_id", type=TASK_ID)
@click.argument("depends_on", type=TASK_ID)
@common_options
def dep_rm(app: AppContext, task_id: str, depends_on: str) -> None:
    """Remove a dependency."""
    _one(app, app.store().remove_dependency(task_id, depends_on), verb=f"{depends_on} no longer blocks")

"""Shared CLI plumbing: the context object, common options, the JSON envelope and human rendering."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from animus.domain.errors import AnimusError

if TYPE_CHECKING:
    from rich.console import Console

    from animus.config.project import Project
    from animus.store import Store

SCHEMA = "animus.cli.v1"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """What every command gets: output mode, project root override, and lazily opened services."""

    json_output: bool = False
    project_root: str | None = None
    _project: Project | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    def project(self) -> Project:
        if self._project is None:
            from animus.config.project import resolve_project

            self._project = resolve_project(self.project_root)
        return self._project

    def store(self) -> Store:
        if self._store is None:
            from animus import procs
            from animus.store import open_store

            layout = self.project().layout
            procs.private_dir(layout.state_dir, top=layout.private_top)
            self._store = open_store(db_path=layout.db_path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- output -------------------------------------------------------------------------------
    def emit(self, data: Any, human: Callable[[Any], None] | None = None) -> None:
        """Print ``data`` as the success envelope (``--json``) or through ``human``."""
        if self.json_output:
            write_json_line(sys.stdout, {"schema": SCHEMA, "ok": True, "data": data})
        elif human is not None:
            human(data)
        else:
            console().print_json(data=data)

    def event(self, data: dict[str, Any]) -> None:
        """One streaming JSONL event (used by long-running commands in --json mode)."""
        write_json_line(sys.stdout, data)


def project_secrets(app: AppContext) -> dict[str, str]:
    """Every secret this project's output may echo: the process env's and the configuration's (profile ``env:``, ``api_key_env``)."""
    from animus.config import load_config
    from animus.procs import secret_env

    try:
        config = load_config(app.project())
    except AnimusError:  # no or a broken config: the process env is what there is
        return secret_env(os.environ)
    return secret_env(os.environ, *config.declared_envs(), named=config.api_key_names())


def write_json_line(stream: Any, payload: Any) -> None:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode("utf-8", "surrogateescape") + b"\n")
        buffer.flush()
    else:
        stream.write(text + "\n")
        stream.flush()


def render_error(err: AnimusError, json_output: bool) -> None:
    if json_output:
        write_json_line(sys.stderr, {"schema": SCHEMA, "ok": False, "error": err.to_dict()})
        return
    message = err.message
    click.echo(f"error: {message}", err=True)
    if err.hint:
        click.echo(f"hint: {err.hint}", err=True)


_console: Console | None = None
#: wide enough for any table row; a terminal (or COLUMNS) keeps its own width
_PIPED_WIDTH = 1000


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=True)
        if not _console.is_terminal and not os.environ.get("COLUMNS"):
            # piped or captured: rich would squeeze tables into 80 columns and cut ids and times
            _console.width = _PIPED_WIDTH
    return _console


def common_options(func: F) -> F:
    """``--json`` and ``--project-root`` on every leaf command (they also work before the group)."""

    @click.option("--json", "json_flag", is_flag=True, default=False, help="Print the animus.cli.v1 JSON envelope.")
    @click.option(
        "--project-root",
        "project_root_opt",
        type=click.Path(file_okay=False),
        default=None,
        help="Project root (default: $ANIMUS_PROJECT_ROOT, else the git repo holding the cwd).",
    )
    @click.pass_context
    @wraps(func)
    def wrapper(ctx: click.Context, /, *args: Any, json_flag: bool, project_root_opt: str | None, **kwargs: Any) -> Any:
        app = ctx.find_object(AppContext)
        if app is None:
            app = ctx.ensure_object(AppContext)
        if json_flag:
            app.json_output = True
        if project_root_opt:
            app.project_root = project_root_opt
        try:
            return func(app, *args, **kwargs)
        finally:
            app.close()

    return wrapper  # type: ignore[return-value]


def example(*lines: str) -> str:
    """An epilog with examples, kept verbatim by click (the \\b marker stops re-wrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)

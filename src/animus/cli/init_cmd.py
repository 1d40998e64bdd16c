"""`animus init`: write a commented, valid default `.animus/workflows.yaml` and make `.animus/workflows/`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.domain.errors import Conflict, InvalidInput


@click.command(
    "init",
    help="Write a commented default .animus/workflows.yaml (agents, phases, the standard and demo workflows).",
    epilog=example(
        "animus init",
        "animus init --test-command 'npm test'",
        "animus init --force --json",
    ),
)
@click.option("--force", is_flag=True, help="Overwrite an existing .animus/workflows.yaml.")
@click.option(
    "--test-command",
    metavar="CMD",
    default=None,
    help="The `tests` phase command, split like a shell would (never run by one). Default: python -m pytest -q.",
)
@common_options
def init(app: AppContext, force: bool, test_command: str | None) -> None:
    from animus.config import CONFIG_RELPATH, render_default_config

    argv = _split(test_command) if test_command is not None else None
    project = app.project()
    target = project.root / CONFIG_RELPATH
    existed = target.exists()
    if existed and not force:
        raise Conflict(f"{CONFIG_RELPATH} already exists in {project.root}", hint="pass --force to overwrite it")
    _write_atomically(target, render_default_config(argv))
    workflows_dir = target.parent / "workflows"  # more workflow files, merged in name order (configuration.md)
    workflows_dir.mkdir(exist_ok=True)
    from animus.api import ensure_token, token_path

    ensure_token(project.state_dir)  # the API/dashboard bearer token (`animus web token` shows it)
    data = {"path": str(target), "created": not existed, "overwritten": existed, "workflows_dir": str(workflows_dir),
            "token_file": str(token_path(project.state_dir))}
    app.emit(data, human=_human)


def _split(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"--test-command {command!r} cannot be split into arguments: {exc}") from None
    if not argv:
        raise InvalidInput(
            "--test-command is empty", hint="give the program and its arguments, e.g. --test-command 'npm test'"
        )
    return argv


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    from animus.procs import write_atomic

    write_atomic(target, text, mode=0o600)  # mkstemp's mode, which init has always given the file


def _human(data: dict[str, Any]) -> None:
    verb = "overwrote" if data["overwritten"] else "wrote"
    out = console()
    out.print(f"{verb} {data['path']}")
    out.print(f"made {data['workflows_dir']}/ (more workflow files there are merged with it)")
    out.print("next: edit it, then `animus config validate`; try the scripted `demo` workflow first")
    out.print("then commit .animus/ (`git add .animus && git commit`): the configuration belongs with the repository")

"""`animus agents install`: put a pinned agent CLI into animus's cache, where the adapters find it."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from animus.agents import cli_cache_dir, install_cli, pinned_clis
from animus.cli.app import AppContext, common_options, console, example


@click.group(epilog=example("animus agents install claude", "animus agents install codex --version 0.171.0 --json"))
def agents() -> None:
    """Install the agent CLIs animus drives (claude, codex, gemini, opencode, aider, claude-code-acp) at their tested versions."""


@agents.command(
    "install",
    epilog=example("animus agents install claude", "animus agents install gemini --json"),
)
@click.argument("tool", type=click.Choice(list(pinned_clis())))
@click.option("--version", "version", metavar="V", help="version to install (default: the pinned, tested one).")
@common_options
def install_cmd(app: AppContext, tool: str, version: str | None) -> None:
    """Install TOOL's package into the cache off PATH (npm: Node.js 20+; aider: pip into its own venv); idempotent."""

    def progress(line: str) -> None:
        click.echo(f"agents install: {line}", err=True)  # stderr: --json keeps stdout to one line

    installed = install_cli(tool, version, progress=progress)
    app.emit({**dataclasses.asdict(installed), "cache": str(cli_cache_dir())}, _render)


def _render(data: dict[str, Any]) -> None:
    out = console()
    out.print(f"{data['tool']} {data['version']}: {data['binary']}")
    out.print(
        f"animus uses it whenever `{data['tool']}` is not on PATH; "
        f"to pin this exact file instead, set `binary: {data['binary']}` on the agent"
    )

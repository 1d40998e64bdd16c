"""`animus mcp serve`: animus as an MCP server on stdio; `animus mcp config` prints the entry for agent CLIs."""

from __future__ import annotations

import json

import click

from animus.cli.app import AppContext, common_options, example


@click.group(epilog=example("animus mcp serve", "animus mcp config --json"))
def mcp() -> None:
    """Serve animus as an MCP server (stdio) for agents and editors."""


@mcp.command("serve", epilog=example("animus mcp serve", "claude mcp add animus -- animus --project-root . mcp serve",
                                      "animus mcp serve --scope agent   # what agents get: no approve/reject/enqueue"))
@click.option("--scope", type=click.Choice(["full", "agent"]), default="full", show_default=True,
              help="full: every tool (a person's editor); agent: no tool that decides a gate or queues work.")
@common_options
def serve(app: AppContext, scope: str) -> None:
    """Speak MCP on stdin/stdout until the client disconnects (tools: tasks, queue, workflows, run logs)."""
    from animus.mcp import serve_stdio

    serve_stdio(app.project(), scope="agent" if scope == "agent" else "full")


@mcp.command("config", epilog=example("animus mcp config", "animus mcp config --json > .mcp.json"))
@common_options
def config(app: AppContext) -> None:
    """Print the `mcpServers` entry that starts this project's MCP server (for .mcp.json / editor settings)."""
    from animus.mcp import server_argv

    argv = server_argv(app.project().root)
    data = {"mcpServers": {"animus": {"command": argv[0], "args": argv[1:]}}}
    app.emit(data, lambda d: click.echo(json.dumps(d, indent=2)))

"""Entry point of the `animus` command: a lazy command table, global options, exit codes."""

from __future__ import annotations

import importlib
import os
import sys

import click

from animus import __version__
from animus.cli.app import AppContext, example, render_error
from animus.domain.errors import EXIT_INTERNAL, EXIT_INVALID, AnimusError, InvalidInput

# name → (module, attribute, one-line help). Modules are imported only when their command runs,
# so `animus task list` never pays for the engine, the daemon or the web stack.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("animus.cli.init_cmd", "init", "Write a commented default .animus/workflows.yaml."),
    "config": ("animus.cli.config_cmd", "config", "Validate, show and describe the workflow configuration."),
    "task": ("animus.cli.task", "task", "Create, list, update and order tasks."),
    "doctor": ("animus.cli.doctor", "doctor", "Check git, state dir, config, database and agent CLIs."),
    "run": ("animus.cli.run", "run", "Run a task's workflow to the end in the foreground, with live progress."),
    "workflow": ("animus.cli.workflow", "workflow", "Inspect workflow runs; approve/reject gates; cancel, resume, retry."),
    "queue": ("animus.cli.queue", "queue", "Enqueue, hold, release and drop tasks for the daemon."),
    "cost": ("animus.cli.cost", "cost", "What agent phases spent, by task, agent, model or day."),
    "daemon": ("animus.cli.daemon", "daemon", "Start, stop and inspect the daemon that drains the queue."),
    "status": ("animus.cli.status", "status", "Daemon, pool, queue, running agents, recent results, open gates."),
    "web": ("animus.cli.web", "web", "Print (or open) the dashboard URL; show the API token."),
    "mcp": ("animus.cli.mcp_cmd", "mcp", "Serve animus as an MCP server (stdio) for agents and editors."),
    "agent": ("animus.cli.agent", "agent", "Run, inspect and stop agent CLI processes."),
    "agents": ("animus.cli.agents_cmd", "agents", "Install the agent CLIs animus drives (pinned versions)."),
    "source": ("animus.cli.source", "source", "List, sync and check the task sources (GitHub issues, Linear, Markdown)."),
    "plugin": ("animus.cli.plugin", "plugin", "List, inspect, check and lock plugins (JSON-RPC executables)."),
    "step-store": ("animus.cli.stepstore", "step_store", "Serve the durable step-store to runners in any language (JSON-RPC)."),
    "logs": ("animus.cli.logs", "logs", "Show the output of an agent run, a workflow run's phases, or a task's latest run."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=example(
        "animus init && animus config validate",
        "animus task create --title 'Fix the login redirect' --priority high",
        "animus task next --json",
    ),
)
@click.option("--json", "json_flag", is_flag=True, help="Machine output: the animus.cli.v1 JSON envelope.")
@click.option(
    "--project-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Project root (default: $ANIMUS_PROJECT_ROOT, else the main worktree of the git repo holding the cwd).",
)
@click.version_option(__version__, "--version", prog_name="animus")
@click.pass_context
def cli(ctx: click.Context, json_flag: bool, project_root: str | None) -> None:
    """animus: a durable orchestrator for autonomous coding agents."""
    ctx.obj = AppContext(json_output=json_flag, project_root=project_root)


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    json_output = _wants_json(args)
    try:
        cli.main(args=args, prog_name="animus", standalone_mode=False)
    except AnimusError as err:
        render_error(err, json_output)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        message = exc.format_message()
        if exc.ctx is not None and not json_output:
            message += f"\nhint: run `{exc.ctx.command_path} --help` for usage and an example"
        render_error(InvalidInput(message), json_output)
        sys.exit(EXIT_INVALID)
    except click.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `animus task list | head`: the reader went away; that is not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # keep interpreter shutdown quiet
        except OSError:
            pass
        sys.exit(0)
    except Exception as exc:  # an animus bug or an unmapped third-party error: say so, exit 1
        if os.environ.get("ANIMUS_DEBUG"):
            raise
        internal = AnimusError(f"internal error: {type(exc).__name__}: {exc}", hint="set ANIMUS_DEBUG=1 for a traceback")
        render_error(internal, json_output)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()

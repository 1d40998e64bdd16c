from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from animus.cli.main import COMMANDS, cli
from support.cli import run_animus

FORBIDDEN_FOR_READ_ONLY = ("dbos", "sqlalchemy", "starlette", "fastapi", "uvicorn", "mcp", "aiosqlite", "asyncpg")

MODULES_AFTER = """
import json, sys
from animus.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _walk(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{path} {name} did not load"
            found += _walk(sub, f"{path} {name}")
    return found


def test_every_command_has_a_one_line_help_and_an_example() -> None:
    commands = _walk(cli, "animus")
    assert len(commands) > 15
    for path, command in commands:
        assert (command.help or "").strip(), f"{path} has no help"
        assert "Examples:" in (command.epilog or ""), f"{path} has no example in --help"
    for name, (_module, _attr, short) in COMMANDS.items():
        assert short and "\n" not in short, name


@pytest.mark.parametrize(
    "args",
    [["--help"], ["task", "list", "--json"], ["task", "get", "TASK-1", "--json"], ["config", "validate", "--json"]],
)
def test_read_only_commands_do_not_import_the_engine_or_web_stacks(repo: Path, args: list[str]) -> None:
    run_animus(["init"], cwd=repo)
    run_animus(["task", "create", "--title", "x"], cwd=repo)
    proc = subprocess.run([sys.executable, "-c", MODULES_AFTER, *args], cwd=repo, capture_output=True, text=True, timeout=60)
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    loaded = [m for m in modules if m.split(".")[0] in FORBIDDEN_FOR_READ_ONLY]
    assert loaded == [], f"`animus {' '.join(args)}` imported {loaded[:10]}"
    assert "animus.cli.task" in modules or args[0] != "task"


def test_usage_errors_exit_2_and_json_mode_puts_the_envelope_on_stderr(repo: Path) -> None:
    result = run_animus(["task", "create", "--json"], cwd=repo)
    assert result.code == 2 and result.stdout == ""
    assert "--title" in result.error()["message"]
    unknown = run_animus(["frobnicate"], cwd=repo)
    assert unknown.code == 2 and "No such command" in unknown.stderr


def test_version_and_help_exit_0(repo: Path) -> None:
    assert run_animus(["--version"], cwd=repo).code == 0
    helped = run_animus(["task", "create", "--help"], cwd=repo)
    assert helped.code == 0 and "animus task create --title" in helped.stdout

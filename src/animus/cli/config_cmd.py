"""`animus config validate | show | schema`: check, print and describe the workflow configuration."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example


@click.group(
    "config",
    help="Validate, show and describe the workflow configuration.",
    epilog=example("animus config validate", "animus config show --json", "animus config schema > animus.schema.json"),
)
def config() -> None:
    """Validate, show and describe the workflow configuration."""


@config.command(
    "validate",
    short_help="Check every file; all errors as file:line:col (exit 2).",
    help="Check every configuration file; print all errors as file:line:col (exit 2) or a summary.",
    epilog=example("animus config validate", "animus config validate --json"),
)
@common_options
def validate(app: AppContext) -> None:
    from animus.config import discover_config_files, load_config

    project = app.project()
    cfg = load_config(project)
    files = [p.relative_to(project.root).as_posix() for p in discover_config_files(project.root)]
    data = {
        "valid": True,
        "files": files,
        "agents": len(cfg.agents),
        "phases": len(cfg.phases),
        "workflows": len(cfg.workflows),
        "default_workflow": cfg.default_workflow,
    }
    app.emit(data, human=_human_summary)


def _human_summary(data: dict[str, Any]) -> None:
    console().print(
        f"configuration valid: {len(data['files'])} file(s), {data['agents']} agent(s), {data['phases']} phase(s), "
        f"{data['workflows']} workflow(s); default workflow {data['default_workflow']!r}"
    )
    for name in data["files"]:
        console().print(f"  {name}")


@config.command(
    "show",
    short_help="Print the merged configuration, defaults filled in.",
    help="Print the merged configuration with every default filled in (YAML, or JSON with --json).",
    epilog=example("animus config show", "animus config show --json | jq '.data.workflows[0].phases'"),
)
@common_options
def show(app: AppContext) -> None:
    import json

    from animus.config import load_config
    from animus.procs import redact, secret_env

    config = load_config(app.project())
    secrets = secret_env(os.environ, *config.declared_envs(), named=config.api_key_names())
    data = json.loads(redact(json.dumps(config.model_dump(mode="json")), secrets))
    app.emit(data, human=_human_yaml)


def _human_yaml(data: dict[str, Any]) -> None:
    import yaml

    click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True), nl=False)


@config.command(
    "schema",
    short_help="Print the JSON Schema of the configuration.",
    help="Print the JSON Schema of .animus/workflows.yaml (for editor completion and checks).",
    epilog=example("animus config schema > .animus/workflows.schema.json"),
)
@common_options
def schema(app: AppContext) -> None:
    from animus.config import config_json_schema

    app.emit(config_json_schema(), human=lambda data: click.echo(json.dumps(data, indent=2)))

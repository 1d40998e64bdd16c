"""`animus doctor`: check everything animus needs and say what to do about each failure."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.domain.errors import AnimusError

AGENT_CLIS = ("claude", "codex", "gemini", "opencode", "aider", "gh")


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    remedy: str = ""
    required: bool = True


def _version(program: str) -> str | None:
    from animus.procs import run_program

    path = shutil.which(program)
    if path is None:
        return None
    try:
        result = run_program([path, "--version"], timeout=15)
    except AnimusError:
        return "(found, but `--version` failed)"
    text = (result.stdout or result.stderr).strip().splitlines()
    return f"{text[0] if text else '(no version output)'} at {path}"


def run_checks(app: AppContext) -> list[Check]:
    checks: list[Check] = []
    git = _version("git")
    checks.append(
        Check("git", "ok", git)
        if git
        else Check("git", "fail", "git not found on PATH", "install git (e.g. `apt-get install git`)")
    )
    try:
        project = app.project()
    except AnimusError as err:
        checks.append(Check("project", "fail", err.message, err.hint or ""))
        return checks + _agent_checks()
    checks.append(Check("project", "ok", str(project.root)))

    try:
        project.state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=project.state_dir, prefix=".doctor-"):
            pass
        checks.append(Check("state dir", "ok", f"{project.state_dir} (writable)"))
    except OSError as exc:
        checks.append(
            Check("state dir", "fail", f"{project.state_dir}: {exc.strerror}", "set ANIMUS_HOME to a writable directory")
        )

    try:
        from animus.config import load_config

        config = load_config(project)
        checks.append(
            Check("config", "ok", f"{len(config.agents)} agents, {len(config.phases)} phases, {len(config.workflows)} workflows")
        )
    except AnimusError as err:
        first = err.message.splitlines()
        checks.append(Check("config", "fail", " ".join(first[:3]), err.hint or "run `animus config validate` for every error"))

    try:
        from animus.store import LATEST_VERSION, open_store, redact_url

        with open_store(db_path=project.db_path) as store:
            version = store.schema_version()
            detail = f"{redact_url(store.url)} ({store.dialect}, schema v{version})"
            if version == LATEST_VERSION:
                checks.append(Check("database", "ok", detail))
            else:
                checks.append(Check("database", "fail", detail + f", expected v{LATEST_VERSION}", "upgrade animus"))
    except AnimusError as err:
        checks.append(Check("database", "fail", err.message, err.hint or "check ANIMUS_DATABASE_URL"))
    return checks + _agent_checks()


def _agent_checks() -> list[Check]:
    out = []
    for program in AGENT_CLIS:
        version = _version(program)
        if version:
            out.append(Check(program, "ok", version, required=False))
        else:
            out.append(
                Check(program, "warn", "not on PATH", f"install {program} to use tool `{program}`", required=False)
            )
    return out


def _render(data: dict[str, Any]) -> None:
    from rich.text import Text

    marks = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}
    out = console()
    for check in data["checks"]:
        mark, style = marks[check["status"]]
        out.print(Text.assemble((f"{mark} ", style), (f"{check['name']:<10}", "bold"), " ", check["detail"]))
        if check["status"] != "ok" and check["remedy"]:
            out.print(Text(f"             → {check['remedy']}", style="dim"))
    out.print("healthy" if data["healthy"] else "unhealthy: fix the ✗ lines above")


@click.command(epilog=example("animus doctor", "animus doctor --json"))
@common_options
def doctor(app: AppContext) -> None:
    """Check git, the project, state dir, config, database and agent CLIs (exit 1 if a required check fails)."""
    checks = run_checks(app)
    healthy = all(c.status != "fail" for c in checks if c.required)
    app.emit({"healthy": healthy, "checks": [asdict(c) for c in checks]}, _render)
    if not healthy:
        failed = [c.name for c in checks if c.required and c.status == "fail"]
        raise AnimusError(f"doctor found problems: {', '.join(failed)}", details={"failed": failed})



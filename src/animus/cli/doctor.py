"""`animus doctor`: check everything animus needs and say what to do about each failure."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.domain.errors import AnimusError, ConfigError, InvalidInput

if TYPE_CHECKING:
    from animus.config import AgentConfig, WorkflowConfig

_VERSION_TIMEOUT_SECS = 10.0
_CONNECT_TIMEOUT_SECS = 3.0


@dataclass
class Check:
    """One line of the report; a failed required check makes doctor exit with ``code``'s exit code."""

    name: str
    status: str  # ok | warn | fail
    detail: str
    remedy: str = ""
    required: bool = True
    code: str = "unavailable"  # the error code (animus.domain.errors) a failure of this check stands for


def _version(program: str) -> str | None:
    """``<program> --version``'s first line and where it is, or None when ``program`` is not on PATH."""
    path = shutil.which(program)
    return None if path is None else _version_of(path)


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
        checks.append(Check("project", "fail", err.message, err.hint or "", code=err.code))
        return checks
    checks.append(Check("project", "ok", str(project.root)))

    try:
        from animus import procs

        procs.private_dir(project.state_dir, top=project.layout.private_top)
        with tempfile.NamedTemporaryFile(dir=project.state_dir, prefix=".doctor-"):
            pass
        checks.append(Check("state dir", "ok", f"{project.state_dir} (writable)"))
    except OSError as exc:
        checks.append(
            Check(
                "state dir", "fail", f"{project.state_dir}: {exc.strerror}", "set ANIMUS_HOME to a writable directory"
            )
        )

    config: WorkflowConfig | None = None
    try:
        from animus.config import load_config

        config = load_config(project)
        checks.append(
            Check(
                "config",
                "ok",
                f"{len(config.agents)} agents, {len(config.phases)} phases, {len(config.workflows)} workflows",
            )
        )
    except AnimusError as err:
        first = err.message.splitlines()
        hint = err.hint or "run `animus config validate` for every error"
        checks.append(Check("config", "fail", " ".join(first[:3]), hint, code=err.code))

    try:
        from animus.store import LATEST_VERSION, open_store, redact_url

        with open_store(db_path=project.db_path) as store:
            version = store.schema_version()
            detail = f"{redact_url(store.url)} ({store.dialect}, schema v{version})"
            if version == LATEST_VERSION:
                checks.append(Check("database", "ok", detail))
            else:
                checks.append(
                    Check(
                        "database", "fail", detail + f", expected v{LATEST_VERSION}", "upgrade animus", code="internal"
                    )
                )
            if config is not None:
                checks += _fleet_checks(project.root, config, store)
    except AnimusError as err:
        checks.append(Check("database", "fail", err.message, err.hint or "check ANIMUS_DATABASE_URL", code=err.code))
    if config is not None:
        checks += _agent_checks(config, project.root)
    return checks


def _fleet_checks(root: Path, config: WorkflowConfig, store: Any) -> list[Check]:
    """The project's identity (docs/scaling.md), whether the database agrees, and whether takeover can work."""
    from animus import services

    identity = services.project_identity(root, config)
    checks = [Check("project id", "ok", f"{identity.id} (from {identity.source})", required=False)]
    if store.dialect != "postgresql":
        return checks
    bound = store.bound_project()
    others = sorted({m.project_id for m in store.members()} - {identity.id})
    if bound is not None and bound != identity.id:
        checks.append(Check("fleet", "fail", f"this database serves project {bound!r}, this clone is {identity.id!r}",
                            "give every clone the same `project.id` in .animus/workflows.yaml, or use a database of its own",
                            code="conflict"))
    elif others:
        checks.append(Check("fleet", "warn", f"members of this database name other project ids: {', '.join(others)}",
                            "set the same `project.id` in every clone's .animus/workflows.yaml", required=False))
    if identity.source == "path" or (identity.source == "config" and identity.remote_url is None):
        checks.append(Check("takeover", "warn", f"no remote {config.landing.remote!r}: a run stays on the host that started it",
                            f"add one (`git remote add {config.landing.remote} URL`) or set landing.remote; takeover needs it",
                            required=False))
    else:
        checks.append(Check("takeover", "ok", f"task branches travel by {config.landing.remote!r} "
                            f"(lease {config.daemon.lease_secs:g}s)", required=False))
    return checks


def _agent_checks(config: WorkflowConfig, root: Path) -> list[Check]:
    """What each configured agent needs: its CLI, its key, its endpoint; only agents a workflow uses are required."""
    used = _agents_in_workflows(config)
    out: list[Check] = []
    for agent_id, agent in config.agents.items():
        out += _one_agent(agent_id, agent, config, root, required=agent_id in used)
    return out + _github_token_checks(config)


def _github_token_checks(config: WorkflowConfig) -> list[Check]:
    """A GitHub token for each token variable the PR-opening workflows name: where it comes from, never its value."""
    from animus.git import GitHubAuthError, github_token

    envs = sorted({
        getattr(wf.post_success.merge, "github_token_env", None) or "GITHUB_TOKEN"
        for wf in config.workflows
        if wf.post_success.merge and wf.post_success.merge.create_pr
    })
    out: list[Check] = []
    for env in envs:
        name = "github token" if env == "GITHUB_TOKEN" else f"github token ({env})"
        try:
            github_token(env)
        except GitHubAuthError as err:
            out.append(Check(name, "fail", f"{err.message} (a workflow opens pull requests)", err.hint or ""))
            continue
        where = f"${env}" if os.environ.get(env, "").strip() else "`gh auth token`"
        out.append(Check(name, "ok", f"a token from {where} (a workflow opens pull requests)"))
    return out


def _agents_in_workflows(config: WorkflowConfig) -> set[str]:
    used: set[str] = set()
    for wf in config.workflows:
        for entry in config.expanded_phases(wf.id):
            phase = config.phases.get(entry.phase)
            if phase is not None and phase.agent:
                used.add(phase.agent)
    return used


def _plugin_agent(name: str, tool: str, root: Path, *, required: bool, unused: str) -> Check:
    """A provider plugin agent: found and locked (nothing is started; `animus plugin check` does that)."""
    from animus.config.project import state_dir_for
    from animus.domain import plugin_of
    from animus.domain.errors import AnimusError
    from animus.plugins import PluginHost

    plugin = plugin_of(tool) or ""
    bad = "fail" if required else "warn"
    try:
        host = PluginHost(root, state_dir_for(root))
        source, state = host.source(plugin), host.lock_state(plugin)
    except AnimusError as exc:
        return Check(name, bad, f"tool {tool}: {exc.message}{unused}", "see `animus plugin list`", required=required)
    if state != "locked":
        return Check(name, bad, f"tool {tool}: {source.binary} is {state}{unused}", "run `animus plugin lock` once you trust it",
                     required=required, code="conflict")
    return Check(name, "ok", f"tool {tool}: {source.binary} (locked; `animus plugin check` starts it)", required=required)


def _one_agent(agent_id: str, agent: AgentConfig, config: WorkflowConfig, root: Path, *, required: bool) -> list[Check]:
    from animus.agents import cli_cache_dir, find_acp_agent, find_cli, get_adapter, install_hint, profile_from_config
    from animus.procs import build_env

    name = f"agent {agent_id}"
    unused = "" if required else " (no workflow uses this agent)"
    if agent.tool == "scripted":
        return [Check(name, "ok", "tool scripted: the built-in fake agent, nothing to install", required=required)]
    if agent.tool.startswith("plugin:"):
        return [_plugin_agent(name, agent.tool, root, required=required, unused=unused)]
    profile = profile_from_config(agent, config.mcp_servers, root=root)
    if agent.tool in ("command", "acp"):
        program = profile.command[0]
        found = shutil.which(program) if agent.tool == "command" else shutil.which(find_acp_agent(program) or program)
        if found is not None:
            return [Check(name, "ok", f"tool {agent.tool}: {_version_of(found)}", required=required)]
        return [
            Check(
                name,
                "fail" if required else "warn",
                f"tool {agent.tool}: {program!r} not found on PATH{unused}",
                f"install {program}, or fix agents.{agent_id}.command",
                required=required,
            )
        ]
    binary = get_adapter(agent.tool).binary
    agent_path = build_env(os.environ, {}).get("PATH")
    location = find_cli(agent.tool, binary, configured=profile.binary, path=agent_path)
    checks: list[Check] = []
    if location is None:
        where = (
            f"binary {profile.binary!r} (agents.{agent_id}.binary)"
            if profile.binary
            else f"{binary} on PATH or in {cli_cache_dir()}"
        )
        remedy = (
            f"fix agents.{agent_id}.binary"
            if profile.binary
            else f"{install_hint(agent.tool)}, or set agents.{agent_id}.binary"
        )
        checks.append(
            Check(
                name,
                "fail" if required else "warn",
                f"tool {agent.tool}: no {where}{unused}",
                remedy,
                required=required,
            )
        )
    else:
        path = shutil.which(location.path, path=agent_path) or location.path
        source = {
            "binary": "agents." + agent_id + ".binary",
            "PATH": "PATH",
            "cache": "the animus agents install cache",
        }
        checks.append(
            Check(
                name,
                "ok",
                f"tool {agent.tool}: {_version_of(path)} (from {source[location.source]})",
                required=required,
            )
        )
    if profile.api_key_env:
        if profile.env.get(profile.api_key_env) or os.environ.get(profile.api_key_env):
            checks.append(Check(f"{name} key", "ok", f"{profile.api_key_env} is set", required=required))
        else:
            checks.append(
                Check(
                    f"{name} key",
                    "fail" if required else "warn",
                    f"api_key_env {profile.api_key_env} is not set{unused}",
                    f"export {profile.api_key_env}=<your key>, or fix agents.{agent_id}.api_key_env",
                    required=required,
                )
            )
    if profile.base_url:
        problem = _unreachable(profile.base_url)
        if problem is None:
            checks.append(Check(f"{name} endpoint", "ok", f"{profile.base_url} accepts connections", required=required))
        else:
            checks.append(
                Check(
                    f"{name} endpoint",
                    "fail" if required else "warn",
                    f"{profile.base_url}: {problem}{unused}",
                    f"start the endpoint, or fix agents.{agent_id}.base_url",
                    required=required,
                )
            )
    return checks


def _version_of(path: str) -> str:
    """``<path> --version``'s first line (argv only, short timeout), or why there is none."""
    from animus.procs import run_program

    try:
        result = run_program([path, "--version"], timeout=_VERSION_TIMEOUT_SECS)
    except AnimusError:
        return f"(`--version` failed) at {path}"
    if result.timed_out:
        return f"(`--version` did not answer within {_VERSION_TIMEOUT_SECS:.0f}s) at {path}"
    text = (result.stdout or result.stderr).strip().splitlines()
    return f"{text[0] if text else '(no version output)'} at {path}"


def _unreachable(url: str) -> str | None:
    """Why nothing accepts a TCP connection at ``url``'s host and port, or None when something does."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "invalid port"
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=_CONNECT_TIMEOUT_SECS):
            return None
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port} ({exc.strerror or exc})"


def _render(data: dict[str, Any]) -> None:
    from rich.text import Text

    marks = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}
    out = console()
    width = max([10, *(len(c["name"]) for c in data["checks"])])
    for check in data["checks"]:
        mark, style = marks[check["status"]]
        out.print(Text.assemble((f"{mark} ", style), (f"{check['name']:<{width}}", "bold"), " ", check["detail"]))
        if check["status"] != "ok" and check["remedy"]:
            out.print(Text(f"{'':{width + 3}}→ {check['remedy']}", style="dim"))
    out.print("healthy" if data["healthy"] else "unhealthy: fix the ✗ lines above")


@click.command(epilog=example("animus doctor", "animus doctor --json"))
@common_options
def doctor(app: AppContext) -> None:
    """Check git, the project, state dir, config, database and each configured agent (CLI, key, endpoint)."""
    checks = run_checks(app)
    healthy = all(c.status != "fail" for c in checks if c.required)
    app.emit({"healthy": healthy, "checks": [asdict(c) for c in checks]}, _render)
    if not healthy:
        failed = [c for c in checks if c.required and c.status == "fail"]
        names = [c.name for c in failed]
        # The first failure decides the exit code: a missing CLI is `unavailable` (5), a bad config invalid (2).
        raise _error_class(failed[0].code)(f"doctor found problems: {', '.join(names)}", details={"failed": names})


def _error_class(code: str) -> type[AnimusError]:
    pending: list[type[AnimusError]] = [AnimusError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            # ConfigError takes a problem list, not a message; its parent has the same exit code.
            return InvalidInput if issubclass(cls, ConfigError) else cls
        pending += cls.__subclasses__()
    return AnimusError

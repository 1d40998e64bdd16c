"""What an adapter needs to launch one agent CLI: the profile, the session plan and the invocation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_DEFAULT_ALLOWED_TOOLS: tuple[str, ...] = ("Read", "Edit", "Write", "Bash", "Glob", "Grep")
_PERMISSION_MODES: tuple[str, ...] = ("default", "acceptEdits", "bypassPermissions", "plan")
#: the id of the MCP server every capable agent gets (its tools appear as e.g. ``mcp__animus__task_list``)
ANIMUS_MCP_ID = "animus"
#: tools that can take an MCP server (gemini only with an isolated home: it reads servers from a settings file)
_ANIMUS_MCP_TOOLS: tuple[str, ...] = ("claude", "codex", "gemini", "opencode")
_ANIMUS_MCP_ENV = ("ANIMUS_DATABASE_URL",)


@dataclass(frozen=True)
class McpServer:
    """One MCP server an agent may use: its id, the argv that starts it, and its env."""

    id: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentProfile:
    """An agent as configured (field names match ``agents.<id>`` in the workflow YAML one to one)."""

    tool: str
    model: str | None = None
    system_prompt: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    timeout_secs: float = 3600
    idle_timeout_secs: float = 900
    max_attempts: int = 3
    mcp_servers: list[McpServer] = field(default_factory=list)
    base_url: str | None = None
    api_key_env: str | None = None
    permission_mode: str = "acceptEdits"
    allowed_tools: list[str] = field(default_factory=lambda: list(_DEFAULT_ALLOWED_TOOLS))
    isolate_home: bool = True
    command: list[str] = field(default_factory=list)
    script: str | None = None
    binary: str | None = None
    # set per phase (``read_only: true``), not per agent: the CLI is started without its write tools
    read_only: bool = False
    #: which of the user's variables the agent gets: "all", "none" or names/globs (see procs.build_env)
    env_inherit: str | tuple[str, ...] = "all"


@dataclass(frozen=True)
class SessionPlan:
    """Which agent session a run uses: a new one (id known up front where the CLI allows) or a resumed one."""

    id: str | None = None
    resume: bool = False

    @classmethod
    def new(cls) -> SessionPlan:
        return cls(id=str(uuid.uuid4()), resume=False)

    @classmethod
    def resume_of(cls, session_id: str) -> SessionPlan:
        return cls(id=session_id, resume=True)


@dataclass(frozen=True)
class Invocation:
    """How to start the CLI: argv (never a shell), env added to the inherited base, stdin, files and dirs."""

    argv: list[str]
    env_extra: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    files_to_write: dict[Path, str] = field(default_factory=dict)
    dirs_to_create: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _LaunchRequest:
    """One launch as an adapter sees it: ``Adapter.build_invocation``'s arguments, ``environ`` already resolved."""

    profile: AgentProfile
    prompt: str
    cwd: str | os.PathLike[str]
    session: SessionPlan | None
    state_dir: str | os.PathLike[str]
    environ: Mapping[str, str]


def takes_animus_mcp(tool: str, isolate_home: bool = True) -> bool:
    """True when ``tool`` can be given the animus MCP server (aider, command and scripted cannot)."""
    return tool in _ANIMUS_MCP_TOOLS and (tool != "gemini" or isolate_home)


def animus_mcp_server(project_root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> McpServer:
    """``animus mcp serve --scope agent`` for ``project_root`` (no approve, reject or enqueue), with the env that points it at this project's state and database.

    The agent's own env never inherits ANIMUS_*, so the server gets them explicitly.
    """
    from animus.config.project import ENV_HOME, ENV_PROJECT_ROOT, animus_home, mcp_server_argv

    environ = os.environ if environ is None else environ
    env = {ENV_HOME: str(animus_home()), ENV_PROJECT_ROOT: str(Path(project_root).resolve())}
    env.update({name: environ[name] for name in _ANIMUS_MCP_ENV if environ.get(name)})
    return McpServer(id=ANIMUS_MCP_ID, command=mcp_server_argv(project_root, scope="agent"), env=env)


def profile_from_config(
    agent: Any, mcp_registry: Mapping[str, Any] | None = None, *, root: str | os.PathLike[str] | None = None
) -> AgentProfile:
    """Map a config ``AgentConfig`` (same field names) onto an AgentProfile, resolving MCP server ids.

    Duck-typed so that adapters never import the config models; ``script`` is resolved against ``root``.
    With ``root`` an agent whose tool takes MCP gets the animus server too, unless ``animus_mcp`` is false
    or it lists its own server with the id ``animus``.
    """
    registry = mcp_registry or {}
    servers = []
    for server_id in agent.mcp_servers or ():
        server = registry[server_id]
        servers.append(McpServer(id=server_id, command=list(server.command), env=dict(server.env)))
    inject = getattr(agent, "animus_mcp", True) and takes_animus_mcp(agent.tool, agent.isolate_home)
    if root is not None and inject and all(s.id != ANIMUS_MCP_ID for s in servers):
        servers.append(animus_mcp_server(root))
    script = agent.script
    if script and root is not None and not os.path.isabs(os.path.expanduser(script)):
        script = str(Path(root) / script)
    binary = getattr(agent, "binary", None)
    # A bare name is looked up on PATH; a relative path is the project's, like `script`.
    if binary and os.sep in binary and root is not None and not os.path.isabs(os.path.expanduser(binary)):
        binary = str(Path(root) / binary)
    return AgentProfile(
        tool=agent.tool,
        model=agent.model,
        system_prompt=agent.system_prompt or None,
        env=dict(agent.env),
        extra_args=list(agent.extra_args),
        timeout_secs=agent.timeout_secs,
        idle_timeout_secs=agent.idle_timeout_secs,
        max_attempts=agent.max_attempts,
        mcp_servers=servers,
        base_url=agent.base_url,
        api_key_env=agent.api_key_env,
        permission_mode=agent.permission_mode or "acceptEdits",
        allowed_tools=list(agent.allowed_tools) if agent.allowed_tools is not None else list(_DEFAULT_ALLOWED_TOOLS),
        isolate_home=agent.isolate_home,
        command=list(agent.command or []),
        script=script,
        binary=binary,
        env_inherit=getattr(agent, "env_inherit", "all"),
    )

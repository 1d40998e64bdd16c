"""The MCP server (stdio, the official SDK): task, queue, workflow and run-log tools over animus.services and the store.

Every tool is one call into the same service functions the CLI and HTTP API use; payloads are the
records' own ``to_dict()``. Errors surface as MCP tool errors carrying the animus message.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from animus import services
from animus.domain.errors import AnimusError, InvalidInput, NotFound
from animus.domain.runs import RunStatus
from animus.domain.tasks import Priority, TaskStatus, TaskType, parse_enum, parse_task_id

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from animus.config.project import Project
    from animus.store import Store

_F = TypeVar("_F", bound=Callable[..., Any])
McpScope = Literal["full", "agent"]
MCP_SCOPES: tuple[McpScope, ...] = ("full", "agent")
# what an agent's own server must not offer: passing a human gate, or starting work nobody asked for
AGENT_WITHHELD_TOOLS = frozenset({"workflow_approve", "workflow_reject", "queue_enqueue"})
SERVER_NAME = "animus"
INSTRUCTIONS = (
    "animus orchestrates coding agents over a task store. Use task_* tools to read and update tasks "
    "(ids look like TASK-12), queue_* to hand tasks to the daemon, workflow_* to inspect runs and decide "
    "manual gates, and run_log_tail to read an agent run's recent output."
)
AGENT_INSTRUCTIONS = (
    "animus orchestrates coding agents over a task store. Use task_* tools to read, create and update tasks "
    "(ids look like TASK-12), queue_list and workflow_* to inspect the queue and runs, and run_log_tail to read "
    "an agent run's recent output. Gates are decided and work is queued by people, not from here."
)


def server_argv(project_root: str | os.PathLike[str], *, scope: McpScope = "full") -> list[str]:
    """The argv that starts this server for ``project_root`` (``scope="agent"``: what agent CLIs get injected)."""
    from animus.config.project import mcp_server_argv

    return mcp_server_argv(project_root, scope=scope)


class _Services:
    """The project and one lazily opened store, shared by the tools."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._store: Store | None = None
        self._lock = threading.Lock()

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from animus import procs
                from animus.store import open_store

                layout = self.project.layout
                procs.private_dir(layout.state_dir, top=layout.private_top)
                self._store = open_store(db_path=layout.db_path)
            return self._store


def _enum(enum_cls: type[Any], value: str | None, what: str) -> Any:
    return None if value is None else parse_enum(enum_cls, value, what)


def _tool(server: MCPServer[Any], scope: McpScope) -> Callable[[_F], _F]:
    """Register a tool whose animus errors reach the client as ``code: message`` (the SDK hides other text).

    In the agent scope the withheld tools are not registered at all, so an agent can neither list nor call them.
    """
    from mcp.server.mcpserver.exceptions import ToolError

    def register(fn: _F) -> _F:
        if scope == "agent" and fn.__name__ in AGENT_WITHHELD_TOOLS:
            return fn
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except AnimusError as err:
                raise ToolError(f"{err.code}: {err.message}" + (f" (hint: {err.hint})" if err.hint else "")) from err

        server.add_tool(call, name=fn.__name__)
        return fn

    return register


def build_server(project: Project, *, scope: McpScope = "full") -> MCPServer[Any]:
    """An ``MCPServer`` with animus's tools bound to ``project`` (``scope="agent"``: without AGENT_WITHHELD_TOOLS)."""
    from mcp.server.mcpserver import MCPServer

    shared = _Services(project)
    instructions = INSTRUCTIONS if scope == "full" else AGENT_INSTRUCTIONS
    server: MCPServer[Any] = MCPServer(SERVER_NAME, instructions=instructions, log_level="WARNING")
    tool = _tool(server, scope)

    @tool
    def task_list(status: list[str] | None = None, label: str | None = None, text: str | None = None,
                  limit: int = 50) -> dict[str, Any]:
        """List tasks, most urgent first; filter by status (backlog, ready, in_progress, blocked, done, cancelled), label or text."""
        from animus.store import TaskQuery

        query = TaskQuery(statuses=tuple(parse_enum(TaskStatus, s, "status") for s in status or ()),
                          labels=(label,) if label else (), text=text or None, limit=max(1, min(limit, 500)))
        return {"tasks": [t.to_dict() for t in shared.store().list_tasks(query)]}

    @tool
    def task_get(task_id: str) -> dict[str, Any]:
        """One task with its description, labels, dependencies and status."""
        return shared.store().get_task(parse_task_id(task_id)).to_dict()

    @tool
    def task_create(title: str, description: str = "", type: str = "feature", priority: str = "medium",
                    status: str = "backlog", labels: list[str] | None = None,
                    dependencies: list[str] | None = None) -> dict[str, Any]:
        """Create a task (type: feature|bugfix|refactor|docs|test|chore; priority: critical|high|medium|low)."""
        from animus.store import NewTask

        new = NewTask(title=title, description=description, type=parse_enum(TaskType, type, "type"),
                      priority=parse_enum(Priority, priority, "priority"), status=parse_enum(TaskStatus, status, "status"),
                      labels=tuple(labels or ()), dependencies=tuple(parse_task_id(d) for d in dependencies or ()))
        return services.create_task(shared.store(), new).to_dict()

    @tool
    def task_update(task_id: str, title: str | None = None, description: str | None = None,
                    priority: str | None = None, type: str | None = None, add_labels: list[str] | None = None,
                    remove_labels: list[str] | None = None) -> dict[str, Any]:
        """Change a task's title, description, priority, type or labels (omitted fields stay as they are)."""
        from animus.store import TaskPatch

        patch = TaskPatch(title=title, description=description, priority=_enum(Priority, priority, "priority"),
                          type=_enum(TaskType, type, "type"), add_labels=tuple(add_labels or ()),
                          remove_labels=tuple(remove_labels or ()))
        return services.update_task(shared.store(), parse_task_id(task_id), patch).to_dict()

    @tool
    def task_status(task_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
        """Move a task to another status (the transition table applies; blocked takes a reason)."""
        return shared.store().set_status(parse_task_id(task_id), parse_enum(TaskStatus, status, "status"),
                                           reason=reason).to_dict()

    @tool
    def queue_list() -> dict[str, Any]:
        """The daemon's queue in dispatch order (priority, then first come first served)."""
        return {"entries": [e.to_dict() for e in services.list_queue(shared.store())]}

    @tool
    def queue_enqueue(task_id: str, workflow: str | None = None, vars: dict[str, str] | None = None) -> dict[str, Any]:
        """Queue a task for the daemon (idempotent: a queued task keeps its place; refused while it has an active run)."""
        from animus.config import load_config_if_present

        # the same checks as the CLI and the API: the workflow exists, it declares these variables and accepts them
        config = load_config_if_present(shared.project) if workflow or vars else None
        queued = services.enqueue(shared.store(), parse_task_id(task_id), workflow=workflow, variables=dict(vars or {}),
                                  source="cli", config=config)
        return {**queued.entry.to_dict(), "created": queued.created}

    @tool
    def workflow_list(task_id: str | None = None, status: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Workflow runs, newest first (status: pending, running, waiting_manual, waiting_pr, completed, failed, …)."""
        runs = shared.store().list_runs(task_id=parse_task_id(task_id) if task_id else None,
                                          statuses=(parse_enum(RunStatus, status, "status"),) if status else (),
                                          limit=max(1, min(limit, 200)))
        return {"runs": [r.to_dict() for r in runs]}

    @tool
    def workflow_get(run_id: str) -> dict[str, Any]:
        """A run with its phase attempts (tokens, cost, status) and every verdict."""
        store = shared.store()
        run = store.get_run(run_id)
        return {**run.to_dict(), "phases": [p.to_dict() for p in store.phase_runs(run.id)],
                "decisions": [d.to_dict() for d in store.decisions(run.id)]}

    def gate(run_id: str, phase: str | None, note: str | None, approve: bool) -> dict[str, Any]:
        return dict(services.decide_gate(shared.store(), run_id, phase, approve=approve, note=note))

    @tool
    def workflow_approve(run_id: str, phase: str | None = None, note: str | None = None) -> dict[str, Any]:
        """Approve the manual gate a run waits at (the run continues)."""
        return gate(run_id, phase, note, True)

    @tool
    def workflow_reject(run_id: str, phase: str | None = None, note: str | None = None) -> dict[str, Any]:
        """Reject the manual gate a run waits at (rework to its target, or the run fails)."""
        return gate(run_id, phase, note, False)

    @tool
    def run_log_tail(agent_run_id: str, events: int = 50) -> dict[str, Any]:
        """The last normalized events (text, tool calls, results, errors) of an agent run, secrets masked."""
        from animus.agents import read_run
        from animus.procs import redact

        runs_dir = shared.project.runs_dir
        if "/" in agent_run_id or ".." in agent_run_id or not (runs_dir / agent_run_id).is_dir():
            raise NotFound(f"no agent run {agent_run_id!r}")
        if events < 1:
            raise InvalidInput("events must be >= 1")
        view = read_run(agent_run_id, runs_dir)
        tail = [e.to_dict() for e in view.events if e.kind != "raw"][-min(events, 1000):]
        data = {"run_id": agent_run_id, "status": view.status, "events": tail}
        return dict(json.loads(redact(json.dumps(data, default=str), os.environ)))

    return server


def serve_stdio(project: Project, *, scope: McpScope = "full") -> None:
    """Serve ``project`` over stdin/stdout until the client closes the stream."""
    build_server(project, scope=scope).run("stdio")

"""The plan of a run: the workflow as configured when the run was created, frozen as plain JSON.

A run executes its plan, not the live configuration, so a config edit while a run is in flight (or
between a crash and its recovery) cannot change what a replay does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from animus.agents import ANIMUS_MCP_ID, AgentProfile, McpServer, animus_mcp_server, takes_animus_mcp
from animus.domain.errors import InvalidInput
from animus.engine._types import PhaseSpec, Plan, TaskSnapshot, _CommandSpec, _DecisionContract, _ManualSpec, _MergeSpec

if TYPE_CHECKING:
    from animus.config import WorkflowConfig

_RISK_ORDER = {"low": 0, "medium": 1, "high": 2}
#: what a plan holds instead of a secret's value: the value is read from the live config or the process env at launch
_SECRET = "$secret"


def _without_secrets(env: dict[str, str], named: frozenset[str] = frozenset()) -> dict[str, str]:
    """``env`` with every secret value replaced by the placeholder, so the frozen plan (a database row) holds none."""
    from animus.procs import is_secret

    return {name: _SECRET if (name in named or is_secret(name, value)) else value for name, value in env.items()}


def build_plan(
    config: WorkflowConfig, workflow_id: str, *, variables: dict[str, str] | None = None, root: Path | None = None
) -> Plan:
    """Expand ``workflow_id`` into a JSON plan: phases with their agent profiles, routing and landing.

    With ``root``, each agent whose tool takes MCP also gets the animus server (unless ``animus_mcp: false``),
    frozen into the plan like the rest of its profile.
    """
    workflow = config.workflow(workflow_id)
    entries = config.expanded_phases(workflow_id)
    workflow.check_variables(variables or {})  # unknown names and unaccepted values, before anything runs
    declared = workflow.variable_defaults()
    phases: list[PhaseSpec] = []
    for index, entry in enumerate(entries):
        phase = config.phases[entry.phase]
        item: PhaseSpec = {
            "index": index,
            "id": entry.phase,
            "mode": phase.mode,
            "directive": phase.directive,
            "decision_contract": cast(_DecisionContract, phase.decision_contract.model_dump(mode="json")),
            "rework_target": entry.on_verdict.rework.target if entry.on_verdict.rework else None,
            "skip_if": list(entry.skip_if),
            "max_rework_attempts": entry.max_rework_attempts,
            "agent_id": phase.agent,
            "agent": None,
            "command": cast(_CommandSpec, phase.command.model_dump(mode="json")) if phase.command else None,
            "manual": cast(_ManualSpec, phase.manual.model_dump(mode="json")) if phase.manual else None,
            "require_changes": phase.require_changes,
            "read_only": phase.read_only,
        }
        if phase.agent:
            item["agent"] = _agent_profile(config, phase.agent, root)
            if phase.fallback_agents:
                item["fallbacks"] = [{**_agent_profile(config, aid, root), "id": aid} for aid in phase.fallback_agents]
        phases.append(item)
    return {
        "workflow": workflow_id,
        "description": workflow.description,
        "phases": phases,
        "merge": _merge_spec(config, workflow_id),
        "variables": {**declared, **(variables or {})},
        # frozen: runs made before provider pauses existed replay without their checks
        "limits": True,
        # frozen so the loop's steps stay the same on replay; the limits themselves are read live at each check
        "budgeted": any(value is not None for key, value in config.budgets_for(workflow_id).model_dump().items()
                        if key != "on_exceeded"),
    }


def _agent_profile(config: WorkflowConfig, agent_id: str, root: Path | None) -> dict[str, Any]:
    """The plan's copy of one agent: its profile, MCP servers resolved, secrets left out, the script made absolute."""
    agent = config.agents[agent_id]
    servers = [
        {"id": sid, "command": list(config.mcp_servers[sid].command), "env": _without_secrets(dict(config.mcp_servers[sid].env))}
        for sid in agent.mcp_servers
        if sid in config.mcp_servers
    ]
    if root is not None and agent.animus_mcp and takes_animus_mcp(agent.tool, agent.isolate_home):
        if all(server["id"] != ANIMUS_MCP_ID for server in servers):
            injected = animus_mcp_server(root)
            servers.append({"id": injected.id, "command": injected.command, "env": injected.env})
    profile = agent.model_dump(mode="json")
    profile["mcp_servers"] = servers
    profile["env"] = _without_secrets(dict(agent.env), frozenset({agent.api_key_env} if agent.api_key_env else ()))
    if profile.get("script") and root is not None and not Path(profile["script"]).is_absolute():
        profile["script"] = str(root / profile["script"])  # relative to the project, not the cwd
    return profile


def _merge_spec(config: WorkflowConfig, workflow_id: str) -> _MergeSpec | None:
    """The workflow's landing, with the project's GitHub repository, API and token variable for its pull requests."""
    merge = config.workflow(workflow_id).post_success.merge
    if merge is None:
        return None
    spec = cast(_MergeSpec, merge.model_dump(mode="json"))
    github = config.github
    spec["github_repo"] = github.repo
    # only when configured: else $GITHUB_API_URL, else the API of the remote's host (GitHub Enterprise) applies
    spec["github_api_url"] = github.api_url if "api_url" in github.model_fields_set else None
    spec["github_token_env"] = github.token_env
    return spec


def profile_from_plan(agent: dict[str, Any]) -> AgentProfile:
    """The agents layer's profile from a plan's agent dict (field names match one to one)."""
    known = {f.name for f in dataclasses.fields(AgentProfile)}
    data = {k: v for k, v in agent.items() if k in known}
    data["mcp_servers"] = [McpServer(id=m["id"], command=list(m["command"]), env=dict(m.get("env", {}))) for m in agent.get("mcp_servers", [])]
    for key in ("extra_args", "allowed_tools", "command"):
        if key in data and data[key] is not None:
            data[key] = list(data[key])
        elif key == "command":
            data[key] = []
    data["system_prompt"] = data.get("system_prompt") or None
    for key in ("allowed_tools", "permission_mode"):
        if data.get(key) is None:  # claude-only fields are null for other tools: keep the profile's defaults
            data.pop(key, None)
    return AgentProfile(**data)


def _phase_index(plan: Plan, phase_id: str) -> int:
    for item in plan["phases"]:
        if item["id"] == phase_id:
            return int(item["index"])
    raise InvalidInput(f"workflow {plan['workflow']!r} has no phase {phase_id!r}")


def _skip_reason(phase: PhaseSpec, task: TaskSnapshot) -> str | None:
    """The first ``skip_if`` expression that matches the task, or None."""
    from animus.config import parse_skip_if

    for expr in phase["skip_if"]:
        condition = parse_skip_if(expr)
        if condition.matches(type=task["type"], priority=task["priority"], labels=task["labels"]):
            return f"skip_if {expr!r} matched"
    return None

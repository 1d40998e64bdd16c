"""Cross checks over the merged raw data: references, rework order, cycles, mode/field agreement."""

from __future__ import annotations

from typing import Any

from animus.config._problems import _did_you_mean, _Mark, _Path, _Positions, _Problem, _where
from animus.domain.tools import PLUGIN_TOOL_PREFIX

_MODES = ("agent", "command", "manual")
_TOOL_ONLY = {"command": "command", "script": "scripted", "permission_mode": "claude", "allowed_tools": "claude"}
_NO_BINARY = ("command", "scripted", "acp")
_ALSO_FOR = {"command": ("acp",)}  # an ACP agent is named by its argv too
_MODE_ONLY = {"agent": "agent", "command": "command", "manual": "manual"}
_AGENT_FLAGS = ("require_changes", "read_only")  # only true counts: `config show` prints false for every phase


def _cross_check(data: dict[Any, Any], positions: _Positions) -> list[_Problem]:
    """Every semantic problem of the merged config; robust to values pydantic already rejected."""
    checker = _Checker(data, positions)
    checker.agents()
    checker.phases()
    checker.workflows()
    checker.schedules_and_triggers()
    return checker.problems


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else ()


class _Checker:
    def __init__(self, data: dict[Any, Any], positions: _Positions) -> None:
        self.data = data
        self.pos = positions
        self.problems: list[_Problem] = []
        self._seen: set[tuple[_Mark, str]] = set()
        self._rework_reported: set[_Path] = set()  # one report per entry, even when several workflows include it
        self.agent_ids = set(_mapping(data.get("agents")))
        self.phase_ids = set(_mapping(data.get("phases")))
        self.server_ids = set(_mapping(data.get("mcp_servers")))
        self.workflow_list = [w for w in _items(data.get("workflows"))]
        self.workflow_index: dict[str, int] = {}
        for i, wf in enumerate(self.workflow_list):
            wid = wf.get("id") if isinstance(wf, dict) else None
            if isinstance(wid, str):
                self.workflow_index.setdefault(wid, i)

    def add(self, mark: _Mark, message: str) -> None:
        if (mark, message) not in self._seen:
            self._seen.add((mark, message))
            self.problems.append(_Problem(mark, message))

    def unknown(self, kind: str, ident: str, known: set[str], path: _Path, context: str, key: bool = False) -> None:
        mark = self.pos.key_mark(path) if key else self.pos.value_mark(path)
        suggestion = _did_you_mean(ident, sorted(known))
        if not suggestion:
            suggestion = f" (defined: {', '.join(sorted(known))})" if known else f" (no {kind}s are defined)"
        self.add(mark, f"unknown {kind} {ident!r} in {context}{suggestion}")

    # -- agents ----------------------------------------------------------------------------------
    def agents(self) -> None:
        for aid, agent in _mapping(self.data.get("agents")).items():
            if not isinstance(agent, dict):
                continue
            path: _Path = ("agents", aid)
            tool = agent.get("tool")
            if tool == "command" and agent.get("command") is None:
                self.add(
                    self.pos.key_mark(path),
                    f"agent {aid!r} has tool 'command' but no 'command' (the argv to run, e.g. [my-agent, '{{prompt}}'])",
                )
            if tool == "acp" and agent.get("command") is None:
                self.add(
                    self.pos.key_mark(path),
                    f"agent {aid!r} has tool 'acp' but no 'command' (the ACP agent's argv, e.g. [gemini, --acp])",
                )
            if tool in _NO_BINARY and agent.get("binary") is not None:
                self.add(
                    self.pos.key_mark((*path, "binary")),
                    f"'binary' of agent {aid!r} does not apply to tool {tool!r} "
                    f"({'it runs the built-in fake' if tool == 'scripted' else 'its program is the first item of command'})",
                )
            if isinstance(tool, str) and tool.startswith(PLUGIN_TOOL_PREFIX) and agent.get("binary") is not None:
                self.add(
                    self.pos.key_mark((*path, "binary")),
                    f"'binary' of agent {aid!r} does not apply to tool {tool!r} (the plugin's binary is named by "
                    "plugin discovery: .animus/plugins/ or .animus/plugins.yaml)",
                )
            if isinstance(tool, str):
                for key, only in _TOOL_ONLY.items():
                    if agent.get(key) is not None and tool != only and tool not in _ALSO_FOR.get(key, ()):
                        self.add(
                            self.pos.key_mark((*path, key)),
                            f"{key!r} of agent {aid!r} applies only to tool {only!r} (this agent uses {tool!r})",
                        )
            for i, sid in enumerate(_items(agent.get("mcp_servers"))):
                if isinstance(sid, str) and sid not in self.server_ids:
                    self.unknown(
                        "MCP server",
                        sid,
                        self.server_ids,
                        (*path, "mcp_servers", i),
                        f"agent {aid!r}; define it under top-level 'mcp_servers'",
                    )

    # -- phases ----------------------------------------------------------------------------------
    def phases(self) -> None:
        for pid, phase in _mapping(self.data.get("phases")).items():
            if not isinstance(phase, dict) or phase.get("mode") not in _MODES:
                continue
            mode = phase["mode"]
            path: _Path = ("phases", pid)
            for key, only in _MODE_ONLY.items():
                if mode != only and phase.get(key) is not None:
                    self.add(
                        self.pos.key_mark((*path, key)),
                        f"{key!r} is only for mode {only!r}, but phase {pid!r} has mode {mode!r}",
                    )
            for key in _AGENT_FLAGS:
                if mode != "agent" and phase.get(key) is True:
                    self.add(
                        self.pos.key_mark((*path, key)),
                        f"{key!r} is only for mode 'agent', but phase {pid!r} has mode {mode!r}",
                    )
            if phase.get("read_only") is True and phase.get("require_changes") is True:
                self.add(
                    self.pos.key_mark((*path, "require_changes")),
                    f"phase {pid!r} is read_only, so it can never satisfy require_changes: drop one of them",
                )
            agent = phase.get("agent")
            if mode == "agent" and agent is None:
                self.add(self.pos.key_mark(path), f"phase {pid!r} has mode 'agent' but names no 'agent'")
            elif mode == "agent" and isinstance(agent, str) and agent not in self.agent_ids:
                self.unknown("agent", agent, self.agent_ids, (*path, "agent"), f"phase {pid!r}")
            fallbacks = _items(phase.get("fallback_agents"))
            if fallbacks and mode != "agent":
                self.add(self.pos.key_mark((*path, "fallback_agents")),
                         f"'fallback_agents' is only for mode 'agent', but phase {pid!r} has mode {mode!r}")
            for k, fallback in enumerate(fallbacks):
                if isinstance(fallback, str) and fallback not in self.agent_ids:
                    self.unknown("agent", fallback, self.agent_ids, (*path, "fallback_agents", k), f"phase {pid!r}")
                elif fallback == agent:
                    self.add(self.pos.key_mark((*path, "fallback_agents", k)),
                             f"phase {pid!r} lists its own agent {agent!r} as a fallback")
            if mode == "command" and phase.get("command") is None:
                self.add(
                    self.pos.key_mark(path),
                    f"phase {pid!r} has mode 'command' but no 'command' section (command: {{argv: [program, args…]}})",
                )

    # -- workflows -------------------------------------------------------------------------------
    def workflows(self) -> None:
        for i, wf in enumerate(self.workflow_list):
            if not isinstance(wf, dict):
                continue
            name = _where(("workflows", i), self.data)
            for j, entry in enumerate(_items(wf.get("phases"))):
                self.entry(entry, ("workflows", i, "phases", j), name)
        self.cycles()
        for wid in self.workflow_index:
            self.rework_order(wid)
            self.pr_rework_phase(wid)
        self.default_workflow()

    def entry(self, entry: Any, path: _Path, name: str) -> None:
        if isinstance(entry, str):
            if entry not in self.phase_ids:
                self.unknown("phase", entry, self.phase_ids, path, name)
        elif isinstance(entry, dict) and "workflow_ref" in entry:
            ref = entry["workflow_ref"]
            if isinstance(ref, str) and ref not in self.workflow_index:
                self.unknown(
                    "workflow", ref, set(self.workflow_index), (*path, "workflow_ref"), f"workflow_ref of {name}"
                )
        elif isinstance(entry, dict) and len(entry) == 1:
            ((pid, options),) = entry.items()
            if isinstance(pid, str) and pid not in self.phase_ids:
                self.unknown("phase", pid, self.phase_ids, (*path, pid), name, key=True)
            target = _rework_target(options)
            if target is not None and target not in self.phase_ids:
                self.unknown(
                    "phase",
                    target,
                    self.phase_ids,
                    (*path, pid, "on_verdict", "rework", "target"),
                    f"rework target of {name}",
                )

    def refs(self, wid: str) -> list[tuple[str, _Path]]:
        i = self.workflow_index[wid]
        out: list[tuple[str, _Path]] = []
        for j, entry in enumerate(_items(self.workflow_list[i].get("phases"))):
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("workflow_ref"), str)
                and entry["workflow_ref"] in self.workflow_index
            ):
                out.append((entry["workflow_ref"], ("workflows", i, "phases", j, "workflow_ref")))
        return out

    def cycles(self) -> None:
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        stack: list[str] = []
        reported: set[frozenset[str]] = set()

        def visit(wid: str) -> None:
            state[wid] = 1
            stack.append(wid)
            for ref, path in self.refs(wid):
                if state.get(ref) == 1:
                    loop = [*stack[stack.index(ref) :], ref]
                    if frozenset(loop) not in reported:
                        reported.add(frozenset(loop))
                        self.add(self.pos.value_mark(path), f"workflow_ref cycle: {' → '.join(loop)}")
                elif ref not in state:
                    visit(ref)
            stack.pop()
            state[wid] = 2

        for wid in self.workflow_index:
            if wid not in state:
                visit(wid)

    def expand(self, wid: str, active: tuple[str, ...] = ()) -> list[tuple[str, str | None, _Path]]:
        """(phase id, rework target, path of the target) for each expanded entry; cycles cut."""
        i = self.workflow_index[wid]
        out: list[tuple[str, str | None, _Path]] = []
        for j, entry in enumerate(_items(self.workflow_list[i].get("phases"))):
            path: _Path = ("workflows", i, "phases", j)
            if isinstance(entry, str):
                out.append((entry, None, path))
            elif isinstance(entry, dict) and "workflow_ref" in entry:
                ref = entry["workflow_ref"]
                if isinstance(ref, str) and ref in self.workflow_index and ref not in (*active, wid):
                    out.extend(self.expand(ref, (*active, wid)))
            elif isinstance(entry, dict) and len(entry) == 1:
                ((pid, options),) = entry.items()
                if isinstance(pid, str):
                    out.append((pid, _rework_target(options), (*path, pid, "on_verdict", "rework", "target")))
        return out

    def rework_order(self, wid: str) -> None:
        expanded = self.expand(wid)
        for idx, (pid, target, path) in enumerate(expanded):
            if target is None or target not in self.phase_ids or path in self._rework_reported:
                continue
            before = [p for p, _, _ in expanded[:idx]]
            if target not in before:
                self._rework_reported.add(path)
                earlier = f"earlier phases: {', '.join(before)}" if before else "it is the first phase"
                self.add(
                    self.pos.value_mark(path),
                    f"rework target {target!r} of phase {pid!r} must come earlier in workflow {wid!r} ({earlier})",
                )

    def pr_rework_phase(self, wid: str) -> None:
        """``post_success.merge.pr_loop.rework_phase`` names an agent phase of this workflow."""
        i = self.workflow_index[wid]
        merge = _mapping(_mapping(self.workflow_list[i].get("post_success")).get("merge"))
        target = _mapping(merge.get("pr_loop")).get("rework_phase")
        if not isinstance(target, str):
            return
        path: _Path = ("workflows", i, "post_success", "merge", "pr_loop", "rework_phase")
        ids = list(dict.fromkeys(pid for pid, _, _ in self.expand(wid)))
        if target not in ids:
            self.unknown("phase", target, set(ids), path, f"pr_loop.rework_phase of workflow {wid!r}")
        elif _mapping(_mapping(self.data.get("phases")).get(target)).get("mode", "agent") != "agent":
            self.add(self.pos.value_mark(path), f"pr_loop.rework_phase {target!r} of workflow {wid!r} is not an agent phase; "
                     "the pull request's feedback goes to an agent")

    def default_workflow(self) -> None:
        chosen = self.data.get("default_workflow")
        known = set(self.workflow_index)
        if not self.workflow_list:
            self.add(
                self.pos.value_mark(()),
                "no workflows defined: add at least one under 'workflows' (`animus init` writes a starting point)",
            )
        elif chosen is None and len(self.workflow_list) > 1:
            self.add(
                self.pos.value_mark(()),
                f"'default_workflow' is required when there is more than one workflow (have: {', '.join(sorted(known))})",
            )
        elif isinstance(chosen, str) and chosen not in known:
            self.unknown("workflow", chosen, known, ("default_workflow",), "default_workflow")

    # -- schedules and triggers ------------------------------------------------------------------
    def schedules_and_triggers(self) -> None:
        known = set(self.workflow_index)
        for section in ("schedules", "triggers", "sources"):
            for i, item in enumerate(_items(self.data.get(section))):
                if not isinstance(item, dict):
                    continue
                path: _Path = (section, i)
                name = _where(path, self.data)
                ref = item.get("workflow_ref")
                if isinstance(ref, str) and ref not in known:
                    self.unknown("workflow", ref, known, (*path, "workflow_ref"), f"workflow_ref of {name}")
                if section == "schedules" and (ref is None) == (item.get("task") is None):
                    both = " (it has both)" if ref is not None else ""
                    self.add(self.pos.key_mark(path), f"{name} needs exactly one of 'workflow_ref' or 'task'{both}")


def _rework_target(options: Any) -> str | None:
    on_verdict = options.get("on_verdict") if isinstance(options, dict) else None
    rework = on_verdict.get("rework") if isinstance(on_verdict, dict) else None
    target = rework.get("target") if isinstance(rework, dict) else None
    return target if isinstance(target, str) else None

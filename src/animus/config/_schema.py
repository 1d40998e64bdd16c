"""The workflow configuration schema: strict, immutable pydantic models (unknown keys are errors)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Discriminator, Field, Tag, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from animus.config._fields import (
    _DEFAULT_ALLOWED_TOOLS,
    _Argv,
    _cron,
    _EnvInherit,
    _EnvKey,
    _EnvName,
    _Ident,
    _Model,
    _PositiveInt,
    _program,
    _skip_expr,
    _url,
    _var_name,
)
from animus.config._schema_costs import BudgetConfig, ModelPrice
from animus.config._schema_sources import (
    GitHubConfig,
    SourceConfig,
    _SourceConfig,
)
from animus.config._skip_if import SkipCondition, parse_skip_if
from animus.domain.errors import InvalidInput, NotFound
from animus.domain.tools import AGENT_TOOLS, PLUGIN_TOOL_PATTERN


# -- registry ------------------------------------------------------------------------------------
class McpServerConfig(_Model):
    """One MCP server agents may use: the argv that starts it (stdio) and its environment."""

    command: _Argv
    env: dict[_EnvKey, str] = {}


# -- agents ----------------------------------------------------------------------------------------
def _tool(value: str) -> str:
    if value in AGENT_TOOLS or re.fullmatch(PLUGIN_TOOL_PATTERN, value):
        return value
    # reported like any enum choice, the provider plugin form last
    expected = ", ".join(f"'{t}'" for t in (*AGENT_TOOLS, "plugin:<name>"))
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


#: a built-in tool, or ``plugin:<name>``: the agent runs through the provider plugin ``<name>`` (docs/plugins.md)
_Tool = Annotated[
    str,
    AfterValidator(_tool),
    WithJsonSchema({"anyOf": [{"enum": list(AGENT_TOOLS)}, {"type": "string", "pattern": PLUGIN_TOOL_PATTERN}]}),
]


class AgentConfig(_Model):
    """An agent profile: which CLI, which model, how long it may run, what it may touch."""

    tool: _Tool
    model: str | None = None
    system_prompt: str = ""
    env: dict[_EnvKey, str] = {}
    extra_args: tuple[str, ...] = ()
    timeout_secs: _PositiveInt = 3600
    idle_timeout_secs: _PositiveInt = 900
    max_attempts: Annotated[int, Field(ge=1)] = 3
    mcp_servers: tuple[_Ident, ...] = ()
    base_url: Annotated[str, AfterValidator(_url)] | None = None
    api_key_env: _EnvName | None = None
    # whose usage limits it shares (default: its tool), e.g. a `command` agent that calls Claude's API
    provider: _Ident | None = None
    # claude only; a claude agent that omits them gets acceptEdits and DEFAULT_ALLOWED_TOOLS
    permission_mode: Literal["default", "acceptEdits", "bypassPermissions", "plan"] | None = None
    allowed_tools: tuple[str, ...] | None = None
    isolate_home: bool = True
    command: _Argv | None = None
    script: str | None = None
    # the CLI's program when it is not `<tool>` on PATH or in the `animus agents install` cache
    binary: Annotated[str, AfterValidator(_program)] | None = None
    # claude, codex, gemini (isolate_home), opencode: get `animus mcp serve` as MCP server "animus"
    animus_mcp: bool = True
    # which of the user's environment variables the agent gets (never ANIMUS_*): all, none, or names/globs
    env_inherit: _EnvInherit = "all"

    @model_validator(mode="before")
    @classmethod
    def _claude_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tool") == "claude":
            return {"permission_mode": "acceptEdits", "allowed_tools": _DEFAULT_ALLOWED_TOOLS, **data}
        return data


# -- phases ----------------------------------------------------------------------------------------
class DecisionContract(_Model):
    """What a verdict must carry to advance: confidence floor, risk ceiling, evidence kinds."""

    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    max_risk: Literal["low", "medium", "high"] = "medium"
    required_evidence: tuple[str, ...] = ()


class CommandSpec(_Model):
    """A command phase's program (argv, never a shell) and how its exit code is judged."""

    argv: _Argv
    cwd: Literal["worktree", "project"] = "worktree"
    timeout_secs: _PositiveInt = 600
    success_exit_codes: Annotated[tuple[Annotated[int, Field(ge=0, le=255)], ...], Field(min_length=1)] = (0,)
    env: dict[_EnvKey, str] = {}


class ManualSpec(_Model):
    """A manual gate: what the human is asked to check, and an optional deadline."""

    instructions: str = ""
    timeout_secs: _PositiveInt | None = None


class PhaseConfig(_Model):
    """A phase: an agent with a decision contract, a command, or a manual gate."""

    mode: Literal["agent", "command", "manual"]
    agent: _Ident | None = None
    directive: str = ""
    decision_contract: DecisionContract = DecisionContract()
    command: CommandSpec | None = None
    manual: ManualSpec | None = None
    # agent phases only: an attempt that changed no file is sent back ("the phase changed no files")
    require_changes: bool = False
    # agent phases only: the CLI gets no write tools, and a change to the worktree fails the phase
    read_only: bool = False
    # agent phases only: who runs the phase instead while its agent's provider is paused by a usage limit,
    # or after its agent failed with a provider error (docs/costs.md)
    fallback_agents: tuple[_Ident, ...] = ()


# -- workflows -------------------------------------------------------------------------------------
class ReworkRule(_Model):
    """Where a ``rework`` verdict sends the workflow: an earlier phase."""

    target: _Ident


class OnVerdict(_Model):
    """Per-verdict routing of one workflow entry."""

    rework: ReworkRule | None = None


class PhaseOptions(_Model):
    """The options of a ``{<phase-id>: {...}}`` workflow entry."""

    on_verdict: OnVerdict = OnVerdict()
    skip_if: tuple[Annotated[str, AfterValidator(_skip_expr)], ...] = ()
    max_rework_attempts: Annotated[int, Field(ge=0)] = 3


class WorkflowRefEntry(_Model):
    """``{workflow_ref: <id>}``: another workflow's phases, expanded inline."""

    workflow_ref: _Ident


def _entry_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "phase-id"
    if isinstance(value, WorkflowRefEntry) or (isinstance(value, dict) and "workflow_ref" in value):
        return "workflow-ref"
    if isinstance(value, dict) and len(value) == 1:
        return "phase-options"
    return None


_ENTRY_TAGS = ("phase-id", "phase-options", "workflow-ref")
_ENTRY_SHAPE = (
    "a phase id, a single-key map {<phase-id>: {on_verdict, skip_if, max_rework_attempts}}, or {workflow_ref: <id>}"
)

_WorkflowEntry = Annotated[
    Union[  # noqa: UP007 - Tag needs the explicit Union form
        Annotated[_Ident, Tag("phase-id")],
        Annotated[dict[_Ident, PhaseOptions], Field(min_length=1, max_length=1), Tag("phase-options")],
        Annotated[WorkflowRefEntry, Tag("workflow-ref")],
    ],
    Discriminator(
        _entry_kind, custom_error_type="phase_entry", custom_error_message=f"a phase entry must be {_ENTRY_SHAPE}"
    ),
]


class PrLoopConfig(_Model):
    """What a run does after it opened its pull request: wait on checks and reviews, rework, merge."""

    #: reworks the PR's checks and reviews may ask for before the run is escalated
    max_reworks: Annotated[int, Field(ge=0, le=100)] = 3
    #: wait for every check run on the head commit to finish before approving or merging
    wait_for_checks: bool = True
    #: merge through the API once approved and green (guarded by the head SHA the checks ran on)
    auto_merge: bool = False
    merge_method: Literal["merge", "squash", "rebase"] = "merge"
    #: an approval is needed before auto_merge (false: green checks are enough)
    require_approval: bool = True
    #: how often the PR is polled (webhooks wake the run sooner)
    poll_secs: Annotated[float, Field(ge=1, le=86400)] = 60.0
    #: the phase a rework goes back to (null: the first agent phase)
    rework_phase: _Ident | None = None


class MergeSpec(_Model):
    """How a successful run lands: strategy, target (null: the branch checked out at run time), PR."""

    strategy: Literal["merge", "squash", "rebase"] = "merge"
    target_branch: str | None = None
    create_pr: bool = False
    cleanup_worktree: bool = True
    #: with create_pr: the loop after the PR exists (null: the run ends when the PR is open)
    pr_loop: PrLoopConfig | None = PrLoopConfig()


class PostSuccess(_Model):
    """What happens after the last phase advances; no ``merge`` leaves the branch for a human."""

    merge: MergeSpec | None = None


class PhaseEntry(_Model):
    """One step of an expanded workflow: a phase id and its routing options."""

    phase: str
    on_verdict: OnVerdict = OnVerdict()
    skip_if: tuple[str, ...] = ()
    max_rework_attempts: int = 3
    workflow: str = ""  # the workflow whose definition holds this entry (differs under workflow_ref)

    def skip_conditions(self) -> list[SkipCondition]:
        return [parse_skip_if(expr) for expr in self.skip_if]


def _full_pattern(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid pattern {value!r}: {exc}") from None
    return value


class VariableSpec(_Model):
    """A declared workflow variable: its default and the values a run may give it.

    Values reach command argv, so without a ``pattern`` a value must not start with ``-`` (it would be
    read as an option); with one, the whole value must match it.
    """

    default: str = ""
    pattern: Annotated[str | None, AfterValidator(_full_pattern)] = None
    description: str = ""

    def check(self, name: str, value: str) -> None:
        if self.pattern is not None:
            if re.fullmatch(self.pattern, value) is None:
                raise InvalidInput(f"variable {name}={value[:80]!r} does not match its pattern {self.pattern!r}")
        elif value.startswith("-"):
            raise InvalidInput(
                f"variable {name}={value[:80]!r} starts with '-', which a command would read as an option",
                hint=f"declare `variables: {{{name}: {{pattern: ...}}}}` in the workflow to allow such values",
            )


class WorkflowDef(_Model):
    """A named list of phases with its landing policy and variables."""

    id: _Ident
    description: str = ""
    phases: Annotated[tuple[_WorkflowEntry, ...], Field(min_length=1)]
    post_success: PostSuccess = PostSuccess()
    # NAME: default (the plain form) or NAME: {default, pattern, description}
    variables: dict[Annotated[str, AfterValidator(_var_name)], str | VariableSpec] = {}
    #: this workflow's limits, each field over the project's ``budgets`` (null: the project's)
    budgets: BudgetConfig | None = None

    def variable_specs(self) -> dict[str, VariableSpec]:
        return {name: spec if isinstance(spec, VariableSpec) else VariableSpec(default=spec)
                for name, spec in self.variables.items()}

    def variable_defaults(self) -> dict[str, str]:
        return {name: spec.default for name, spec in self.variable_specs().items()}

    def check_variables(self, values: Mapping[str, str]) -> None:
        """Refuse (InvalidInput) a variable the workflow does not declare or a value its declaration does not accept."""
        specs = self.variable_specs()
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise InvalidInput(
                f"unknown variable(s) {', '.join(unknown)} for workflow {self.id!r}"
                + (f" (declared: {', '.join(sorted(specs))})" if specs else " (it declares none)")
            )
        for name, value in values.items():
            specs[name].check(name, value)


# -- schedules and triggers ------------------------------------------------------------------------
class ScheduledTask(_Model):
    """The task a schedule creates each time it fires."""

    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    type: Literal["feature", "bugfix", "refactor", "docs", "test", "chore"] = "feature"
    priority: Literal["critical", "high", "medium", "low"] = "medium"
    labels: tuple[str, ...] = ()


class ScheduleConfig(_Model):
    """A cron schedule (5 fields, UTC) that runs a workflow or creates a task."""

    id: _Ident
    cron: Annotated[str, AfterValidator(_cron)]
    workflow_ref: _Ident | None = None
    task: ScheduledTask | None = None
    enabled: bool = True
    catch_up: bool = True


class WebhookTaskTemplate(_Model):
    """Title/description templates of the task a webhook creates (null: a built-in default)."""

    title: str | None = None
    description: str | None = None


_GITHUB_ISSUE_ACTIONS = ("opened", "reopened", "labeled", "edited")


class GithubIssuesConfig(_Model):
    """The GitHub variant of a webhook: an ``issues`` event carrying ``label`` creates a task linked to the issue."""

    label: Annotated[str, Field(min_length=1)]
    actions: Annotated[
        tuple[Literal["opened", "reopened", "labeled", "edited"], ...], Field(min_length=1)
    ] = ("opened", "reopened", "labeled")


class WebhookConfig(_Model):
    """A webhook trigger: HMAC secret (by env var name), rate limit, task template, GitHub issues mode."""

    secret_env: _EnvName | None = None
    rate_limit_per_minute: _PositiveInt = 10
    task: WebhookTaskTemplate = WebhookTaskTemplate()
    enqueue: bool = True
    github: GithubIssuesConfig | None = None


class FileWatcherConfig(_Model):
    """A file watcher trigger: globs to watch and ignore, and a quiet period."""

    paths: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=1)]
    ignore: tuple[str, ...] = ()
    debounce_secs: Annotated[float, Field(ge=0)] = 5.0


class WebhookTrigger(_Model):
    id: _Ident
    type: Literal["webhook"]
    workflow_ref: _Ident | None = None
    enabled: bool = True
    config: WebhookConfig = WebhookConfig()


class FileWatcherTrigger(_Model):
    id: _Ident
    type: Literal["file_watcher"]
    workflow_ref: _Ident | None = None
    enabled: bool = True
    config: FileWatcherConfig


class PluginTriggerConfig(_Model):
    """A plugin trigger: the ``trigger_backend`` plugin that watches, what it is told, and what its events become."""

    #: the plugin's name (found and locked: `animus plugin list`, `animus plugin lock`)
    plugin: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    #: handed to the plugin in ``trigger/watch``, as written
    settings: dict[str, Any] = {}
    enqueue: bool = True
    #: how long one call (``trigger/watch``, ``trigger/ack``) may take
    timeout_secs: Annotated[float, Field(gt=0, le=600)] = 30.0


class PluginTrigger(_Model):
    id: _Ident
    type: Literal["plugin"]
    workflow_ref: _Ident | None = None
    enabled: bool = True
    config: PluginTriggerConfig


_TriggerConfig = Annotated[Union[WebhookTrigger, FileWatcherTrigger, PluginTrigger], Field(discriminator="type")]  # noqa: UP007
_TRIGGER_TYPES = ("webhook", "file_watcher", "plugin")


# -- notifications ---------------------------------------------------------------------------------
_NOTIFY_EVENTS = (
    "run.started",
    "run.completed",
    "run.failed",
    "run.escalated",
    "run.merge_conflict",
    "run.cancelled",
    "gate.waiting",
    "task.created",
    "task.done",
    "task.blocked",
)
_NotifyEvent = Literal[
    "run.started",
    "run.completed",
    "run.failed",
    "run.escalated",
    "run.merge_conflict",
    "run.cancelled",
    "gate.waiting",
    "task.created",
    "task.done",
    "task.blocked",
]


class NotificationConfig(_Model):
    """Where to send which events: a webhook (JSON) or a Slack incoming webhook, its URL read from an env var."""

    id: _Ident
    type: Literal["webhook", "slack"]
    url_env: _EnvName
    events: Annotated[tuple[_NotifyEvent, ...], Field(min_length=1)]
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_secs: Annotated[float, Field(gt=0)] = 10.0
    timeout_secs: Annotated[float, Field(gt=0, le=300)] = 10.0


# -- daemon ----------------------------------------------------------------------------------------
_HostName = Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")]


class HttpConfig(_Model):
    """The API and dashboard listener: where it binds, and which Host names it answers besides loopback."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4177
    allowed_hosts: tuple[_HostName, ...] = ()


class DaemonConfig(_Model):
    """The long-running daemon's pool, tick interval and HTTP listener."""

    pool_size: Annotated[int, Field(ge=1)] = 2
    interval_secs: Annotated[float, Field(gt=0)] = 1.0
    auto_run_ready: bool = False
    prune_worktrees: bool = False
    http: HttpConfig = HttpConfig()
    #: a member whose heartbeat is older than this is declared dead by a live peer (PostgreSQL fleets)
    lease_secs: Annotated[float, Field(ge=1, le=3600)] = 15.0
    #: runs at once across every daemon of the project (None: the sum of their pools); PostgreSQL only
    global_concurrency: Annotated[int, Field(ge=1)] | None = None


_ProjectId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]


class ProjectConfig(_Model):
    """The project's identity across clones and hosts (else the normalized URL of the landing remote)."""

    id: _ProjectId | None = None


class LandingConfig(_Model):
    """Where task branches travel between hosts and landings are pushed (PostgreSQL fleets)."""

    remote: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "origin"


# -- the whole file --------------------------------------------------------------------------------
class WorkflowConfig(_Model):
    """The merged, validated configuration of one project."""

    default_workflow: _Ident
    agents: dict[_Ident, AgentConfig] = {}
    phases: dict[_Ident, PhaseConfig] = {}
    workflows: tuple[WorkflowDef, ...] = ()
    mcp_servers: dict[_Ident, McpServerConfig] = {}
    schedules: tuple[ScheduleConfig, ...] = ()
    triggers: tuple[_TriggerConfig, ...] = ()
    notifications: tuple[NotificationConfig, ...] = ()
    daemon: DaemonConfig = DaemonConfig()
    project: ProjectConfig = ProjectConfig()
    landing: LandingConfig = LandingConfig()
    github: GitHubConfig = GitHubConfig()
    sources: tuple[_SourceConfig, ...] = ()
    #: model name → price per million tokens, over the table shipped with animus
    pricing: dict[Annotated[str, Field(min_length=1, max_length=200)], ModelPrice] = {}
    budgets: BudgetConfig = BudgetConfig()

    def budgets_for(self, workflow_id: str) -> BudgetConfig:
        """The project's budgets with the workflow's own fields over them."""
        own = next((wf.budgets for wf in self.workflows if wf.id == workflow_id), None)
        if own is None:
            return self.budgets
        return self.budgets.model_copy(update=own.model_dump(exclude_unset=True))

    def source(self, source_id: str) -> SourceConfig:
        for item in self.sources:
            if item.id == source_id:
                return item
        known = ", ".join(item.id for item in self.sources) or "none"
        raise NotFound(f"no source {source_id!r} in the configuration (have: {known})")

    def workflow(self, workflow_id: str) -> WorkflowDef:
        for wf in self.workflows:
            if wf.id == workflow_id:
                return wf
        known = ", ".join(wf.id for wf in self.workflows)
        raise NotFound(f"no workflow {workflow_id!r} in the configuration (have: {known})")

    def declared_envs(self) -> list[dict[str, str]]:
        """Every ``env:`` map the configuration declares (agents, MCP servers, command phases): where profile secrets live."""
        envs = [dict(agent.env) for agent in self.agents.values()]
        envs += [dict(server.env) for server in self.mcp_servers.values()]
        envs += [dict(phase.command.env) for phase in self.phases.values() if phase.command]
        return envs

    def api_key_names(self) -> list[str]:
        """The variables agents name by ``api_key_env``: secrets whatever their names say."""
        return sorted({agent.api_key_env for agent in self.agents.values() if agent.api_key_env})

    def expanded_phases(self, workflow_id: str) -> list[PhaseEntry]:
        """The workflow's phases with every ``workflow_ref`` expanded inline (cycles are rejected at load)."""
        out: list[PhaseEntry] = []
        for entry in self.workflow(workflow_id).phases:
            if isinstance(entry, WorkflowRefEntry):
                out.extend(self.expanded_phases(entry.workflow_ref))
            elif isinstance(entry, str):
                out.append(PhaseEntry(phase=entry, workflow=workflow_id))
            else:
                ((phase_id, options),) = entry.items()
                out.append(PhaseEntry(phase=phase_id, workflow=workflow_id, **options.model_dump()))
        return out


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of ``.animus/workflows.yaml`` for editors."""
    schema = WorkflowConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "animus workflow configuration (.animus/workflows.yaml)"
    # every file of a merged set may omit default_workflow; the loader checks the merged result
    schema["required"] = []
    return schema

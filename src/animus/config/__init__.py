"""The workflow configuration: schema, loading with file:line:col errors, and the `init` template.

Names are imported on first use so that `animus.config.project` (needed by every command) does not
pay for pydantic and PyYAML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animus.config._daemon_info import DaemonInfo, read_daemon_info
    from animus.config._loader import (
        CONFIG_RELPATH,
        discover_config_files,
        load_config,
        load_config_files,
        load_config_if_present,
    )
    from animus.config._schema import (
        AgentConfig,
        CommandSpec,
        DaemonConfig,
        DecisionContract,
        FileWatcherConfig,
        FileWatcherTrigger,
        GithubIssuesConfig,
        HttpConfig,
        LandingConfig,
        ManualSpec,
        McpServerConfig,
        MergeSpec,
        NotificationConfig,
        OnVerdict,
        PhaseConfig,
        PhaseEntry,
        PhaseOptions,
        PluginTrigger,
        PluginTriggerConfig,
        PostSuccess,
        PrLoopConfig,
        ProjectConfig,
        ReworkRule,
        ScheduleConfig,
        ScheduledTask,
        VariableSpec,
        WebhookConfig,
        WebhookTaskTemplate,
        WebhookTrigger,
        WorkflowConfig,
        WorkflowDef,
        WorkflowRefEntry,
        config_json_schema,
    )
    from animus.config._schema_costs import BudgetConfig, ModelPrice
    from animus.config._schema_sources import (
        SOURCE_TYPES,
        GitHubConfig,
        GitHubSource,
        GitHubStatusLabels,
        LinearSource,
        LinearStateMap,
        MarkdownSource,
        PluginSubjectSource,
        SourceConfig,
    )
    from animus.config._skip_if import SkipCondition, parse_skip_if
    from animus.config._template import DEFAULT_TEST_COMMAND, render_default_config

_EXPORTS: dict[str, str] = {
    "BudgetConfig": "_schema_costs",
    "ModelPrice": "_schema_costs",
    "SOURCE_TYPES": "_schema_sources",
    "PrLoopConfig": "_schema",
    "MarkdownSource": "_schema_sources",
    "PluginSubjectSource": "_schema_sources",
    "SourceConfig": "_schema_sources",
    "LinearStateMap": "_schema_sources",
    "LinearSource": "_schema_sources",
    "GitHubStatusLabels": "_schema_sources",
    "GitHubSource": "_schema_sources",
    "GitHubConfig": "_schema_sources",
    "AgentConfig": "_schema",
    "CONFIG_RELPATH": "_loader",
    "CommandSpec": "_schema",
    "DEFAULT_TEST_COMMAND": "_template",
    "DaemonConfig": "_schema",
    "DaemonInfo": "_daemon_info",
    "DecisionContract": "_schema",
    "FileWatcherConfig": "_schema",
    "FileWatcherTrigger": "_schema",
    "GithubIssuesConfig": "_schema",
    "HttpConfig": "_schema",
    "LandingConfig": "_schema",
    "ManualSpec": "_schema",
    "McpServerConfig": "_schema",
    "MergeSpec": "_schema",
    "NotificationConfig": "_schema",
    "OnVerdict": "_schema",
    "PhaseConfig": "_schema",
    "PhaseEntry": "_schema",
    "PhaseOptions": "_schema",
    "PluginTrigger": "_schema",
    "PluginTriggerConfig": "_schema",
    "PostSuccess": "_schema",
    "ProjectConfig": "_schema",
    "ReworkRule": "_schema",
    "ScheduleConfig": "_schema",
    "ScheduledTask": "_schema",
    "SkipCondition": "_skip_if",
    "VariableSpec": "_schema",
    "WebhookConfig": "_schema",
    "WebhookTaskTemplate": "_schema",
    "WebhookTrigger": "_schema",
    "WorkflowConfig": "_schema",
    "WorkflowDef": "_schema",
    "WorkflowRefEntry": "_schema",
    "config_json_schema": "_schema",
    "discover_config_files": "_loader",
    "load_config": "_loader",
    "load_config_files": "_loader",
    "load_config_if_present": "_loader",
    "parse_skip_if": "_skip_if",
    "read_daemon_info": "_daemon_info",
    "render_default_config": "_template",
}

__all__ = [
    "CONFIG_RELPATH",
    "DEFAULT_TEST_COMMAND",
    "SOURCE_TYPES",
    "AgentConfig",
    "BudgetConfig",
    "CommandSpec",
    "DaemonConfig",
    "DaemonInfo",
    "DecisionContract",
    "FileWatcherConfig",
    "FileWatcherTrigger",
    "GitHubConfig",
    "GitHubSource",
    "GitHubStatusLabels",
    "GithubIssuesConfig",
    "HttpConfig",
    "LandingConfig",
    "LinearSource",
    "LinearStateMap",
    "ManualSpec",
    "MarkdownSource",
    "McpServerConfig",
    "MergeSpec",
    "ModelPrice",
    "NotificationConfig",
    "OnVerdict",
    "PhaseConfig",
    "PhaseEntry",
    "PhaseOptions",
    "PluginSubjectSource",
    "PluginTrigger",
    "PluginTriggerConfig",
    "PostSuccess",
    "PrLoopConfig",
    "ProjectConfig",
    "ReworkRule",
    "ScheduleConfig",
    "ScheduledTask",
    "SkipCondition",
    "SourceConfig",
    "VariableSpec",
    "WebhookConfig",
    "WebhookTaskTemplate",
    "WebhookTrigger",
    "WorkflowConfig",
    "WorkflowDef",
    "WorkflowRefEntry",
    "config_json_schema",
    "discover_config_files",
    "load_config",
    "load_config_files",
    "load_config_if_present",
    "parse_skip_if",
    "read_daemon_info",
    "render_default_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'animus.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"animus.config.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

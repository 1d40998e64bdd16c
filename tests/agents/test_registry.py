"""One tool list: every tool the config schema accepts has an adapter, and every adapter is a tool the schema accepts."""

from __future__ import annotations

import click
import pytest
from pydantic import ValidationError

from animus.agents import TOOLS, get_adapter
from animus.agents._registry import _ADAPTERS
from animus.config import AgentConfig, config_json_schema
from animus.domain import AGENT_TOOLS, PLUGIN_TOOL_PATTERN
from animus.domain.errors import InvalidInput


def test_registry_adapters_are_exactly_the_config_schemas_tools() -> None:
    for tool in AGENT_TOOLS:
        assert AgentConfig(tool=tool).tool == tool
    with pytest.raises(ValidationError, match="plugin:<name>"):
        AgentConfig(tool="vim")
    assert tuple(_ADAPTERS) == AGENT_TOOLS == TOOLS
    for tool in AGENT_TOOLS:
        assert get_adapter(tool).tool == tool


def test_the_json_schema_offers_the_same_tools_in_the_same_order() -> None:
    schema = config_json_schema()
    built_in, plugin = schema["$defs"]["AgentConfig"]["properties"]["tool"]["anyOf"]
    assert tuple(built_in["enum"]) == AGENT_TOOLS
    assert plugin["pattern"] == PLUGIN_TOOL_PATTERN


def test_a_plugin_tool_gets_the_provider_plugin_adapter() -> None:
    assert AgentConfig(tool="plugin:nodeedit").tool == "plugin:nodeedit"
    adapter = get_adapter("plugin:nodeedit")
    assert (adapter.tool, adapter.resumable, adapter.takes_session_id) == ("plugin:nodeedit", True, True)
    assert get_adapter("plugin:nodeedit") is adapter
    with pytest.raises(ValidationError):
        AgentConfig(tool="plugin:../x")


def test_agent_run_tool_choices_are_the_same_list() -> None:
    from animus.cli.agent import agent

    run = agent.commands["run"]
    option = next(p for p in run.params if p.name == "tool")
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == AGENT_TOOLS


def test_an_unknown_tool_names_every_choice() -> None:
    with pytest.raises(InvalidInput, match=", ".join(AGENT_TOOLS)):
        get_adapter("vim")


# tool: (binary, resumable, takes_session_id), as the engine and the run starter read them off the adapter
LAUNCH_FACTS = {
    "claude": ("claude", True, True),
    "codex": ("codex", True, False),
    "gemini": ("gemini", True, False),
    "opencode": ("opencode", True, False),
    "aider": ("aider", False, False),
    "acp": ("", True, False),
    "cursor": ("cursor-agent", True, False),
    "command": ("", False, False),
    "scripted": ("claude", True, True),  # inherits claude's resume and --session-id facts
}


@pytest.mark.parametrize("tool", AGENT_TOOLS)
def test_each_adapter_exposes_its_class_keyword_facts_as_attributes(tool: str) -> None:
    adapter = get_adapter(tool)
    assert (adapter.tool, adapter.binary, adapter.resumable, adapter.takes_session_id) == (tool, *LAUNCH_FACTS[tool])

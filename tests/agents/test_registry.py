"""One tool list: every tool the config schema accepts has an adapter, and every adapter is a tool the schema accepts."""

from __future__ import annotations

from typing import get_args

import click
import pytest

from animus.agents import TOOLS, get_adapter
from animus.agents._registry import _ADAPTERS
from animus.config import AgentConfig, config_json_schema
from animus.domain import AGENT_TOOLS
from animus.domain.errors import InvalidInput


def test_registry_adapters_are_exactly_the_config_schemas_tools() -> None:
    schema_tools = get_args(AgentConfig.model_fields["tool"].annotation)
    assert tuple(_ADAPTERS) == schema_tools == AGENT_TOOLS == TOOLS
    for tool in schema_tools:
        assert get_adapter(tool).tool == tool


def test_the_json_schema_offers_the_same_tools_in_the_same_order() -> None:
    schema = config_json_schema()
    agent = schema["$defs"]["AgentConfig"]["properties"]["tool"]
    assert tuple(agent["enum"]) == AGENT_TOOLS


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
    "command": ("", False, False),
    "scripted": ("claude", True, True),  # inherits claude's resume and --session-id facts
}


@pytest.mark.parametrize("tool", AGENT_TOOLS)
def test_each_adapter_exposes_its_class_keyword_facts_as_attributes(tool: str) -> None:
    adapter = get_adapter(tool)
    assert (adapter.tool, adapter.binary, adapter.resumable, adapter.takes_session_id) == (tool, *LAUNCH_FACTS[tool])

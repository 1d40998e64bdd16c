"""The agent CLIs animus can drive: each tool name spelled once, for the config schema, the adapters and the CLI."""

from __future__ import annotations

from typing import Literal, get_args

AgentTool = Literal["claude", "codex", "gemini", "opencode", "aider", "acp", "cursor", "command", "scripted"]

# In this order everywhere a user sees the choices (error messages, `--tool` help, the JSON schema).
AGENT_TOOLS: tuple[AgentTool, ...] = get_args(AgentTool)

#: an agent whose ``tool`` is ``plugin:<name>`` runs through the provider plugin ``<name>`` (docs/plugins.md)
PLUGIN_TOOL_PREFIX = "plugin:"
PLUGIN_TOOL_PATTERN = r"^plugin:[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def plugin_of(tool: str) -> str | None:
    """The provider plugin a ``tool`` names (``plugin:echo`` → ``echo``), None for a built-in tool."""
    return tool[len(PLUGIN_TOOL_PREFIX) :] or None if tool.startswith(PLUGIN_TOOL_PREFIX) else None

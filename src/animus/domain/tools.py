"""The agent CLIs animus can drive: each tool name spelled once, for the config schema, the adapters and the CLI."""

from __future__ import annotations

from typing import Literal, get_args

AgentTool = Literal["claude", "codex", "gemini", "opencode", "aider", "command", "scripted"]

# In this order everywhere a user sees the choices (error messages, `--tool` help, the JSON schema).
AGENT_TOOLS: tuple[AgentTool, ...] = get_args(AgentTool)

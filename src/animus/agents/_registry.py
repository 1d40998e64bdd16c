"""The adapter for each supported tool name."""

from __future__ import annotations

from animus.agents._acp import _AcpAdapter
from animus.agents._adapter import Adapter
from animus.agents._aider import _AiderAdapter
from animus.agents._claude import _ClaudeAdapter
from animus.agents._codex import _CodexAdapter
from animus.agents._command import _CommandAdapter, _ScriptedAdapter
from animus.agents._cursor import _CursorAdapter
from animus.agents._gemini import _GeminiAdapter
from animus.agents._opencode import _OpencodeAdapter
from animus.agents._plugin import _PluginAdapter
from animus.domain.errors import InvalidInput
from animus.domain.tools import AGENT_TOOLS, plugin_of

_ADAPTERS: dict[str, Adapter] = {
    a.tool: a
    for a in (
        _ClaudeAdapter(),
        _CodexAdapter(),
        _GeminiAdapter(),
        _OpencodeAdapter(),
        _AiderAdapter(),
        _AcpAdapter(),
        _CursorAdapter(),
        _CommandAdapter(),
        _ScriptedAdapter(),
    )
}
TOOLS: tuple[str, ...] = AGENT_TOOLS  # tests/agents/test_registry.py pins the adapters to this list
_PLUGIN_ADAPTERS: dict[str, Adapter] = {}


def get_adapter(tool: str) -> Adapter:
    """The adapter for ``tool`` (``plugin:<name>``: the provider plugin's); InvalidInput names the choices for anything else."""
    adapter = _ADAPTERS.get(tool)
    if adapter is None and plugin_of(tool):
        adapter = _PLUGIN_ADAPTERS.setdefault(tool, _PluginAdapter(tool))
    if adapter is None:
        raise InvalidInput(f"unknown agent tool {tool!r}: choose one of {', '.join(TOOLS)}, or plugin:<name>")
    return adapter

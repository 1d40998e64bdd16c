"""The MCP server: animus's tasks, queue, workflow runs and agent logs as tools for agents and editors (stdio)."""

from animus.mcp._server import (
    AGENT_INSTRUCTIONS,
    AGENT_WITHHELD_TOOLS,
    INSTRUCTIONS,
    MCP_SCOPES,
    SERVER_NAME,
    McpScope,
    build_server,
    serve_stdio,
    server_argv,
)

__all__ = [
    "AGENT_INSTRUCTIONS",
    "AGENT_WITHHELD_TOOLS",
    "INSTRUCTIONS",
    "MCP_SCOPES",
    "SERVER_NAME",
    "McpScope",
    "build_server",
    "serve_stdio",
    "server_argv",
]

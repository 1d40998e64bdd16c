"""The MCP server: animus's tasks, queue, workflow runs and agent logs as tools for agents and editors (stdio)."""

from animus.mcp._server import INSTRUCTIONS, SERVER_NAME, build_server, serve_stdio, server_argv

__all__ = ["INSTRUCTIONS", "SERVER_NAME", "build_server", "serve_stdio", "server_argv"]

"""Agent CLI adapters: argv/env per tool, stream parsers into normalized events, outcomes, decisions."""

from animus.agents._adapter import Adapter, ParseState, load_json_line
from animus.agents._codex import parse_reset_time
from animus.agents._decision import (
    DECISION_INSTRUCTION,
    RISKS,
    VERDICTS,
    Decision,
    NoDecision,
    extract_decision,
    validate_decision,
)
from animus.agents._events import EVENT_KINDS, AgentEvent
from animus.agents._outcome import OUTCOME_STATUSES, Outcome, Tally
from animus.agents._profile import (
    ANIMUS_MCP_ID,
    AgentProfile,
    Invocation,
    McpServer,
    SessionPlan,
    animus_mcp_server,
    profile_from_config,
    takes_animus_mcp,
)
from animus.agents._registry import TOOLS, get_adapter
from animus.agents._run import ReadCursor, RunReader, RunView, new_run_id, read_run, start_agent_run

__all__ = [
    "ANIMUS_MCP_ID",
    "DECISION_INSTRUCTION",
    "EVENT_KINDS",
    "OUTCOME_STATUSES",
    "RISKS",
    "TOOLS",
    "VERDICTS",
    "Adapter",
    "AgentEvent",
    "AgentProfile",
    "Decision",
    "Invocation",
    "McpServer",
    "NoDecision",
    "Outcome",
    "ParseState",
    "ReadCursor",
    "RunReader",
    "RunView",
    "SessionPlan",
    "Tally",
    "animus_mcp_server",
    "extract_decision",
    "get_adapter",
    "load_json_line",
    "new_run_id",
    "parse_reset_time",
    "profile_from_config",
    "read_run",
    "start_agent_run",
    "takes_animus_mcp",
    "validate_decision",
]

"""Agent CLI adapters: argv/env per tool, stream parsers into normalized events, outcomes, decisions."""

from animus.agents._acp import find_acp_agent
from animus.agents._adapter import Adapter, ParseState, load_json_line
from animus.agents._cli_cache import (
    ENV_CLI_CACHE,
    CliLocation,
    InstalledCli,
    PinnedCli,
    cached_cli,
    cli_cache_dir,
    find_cli,
    install_cli,
    install_hint,
    pinned_clis,
)
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
from animus.agents._pricing import Price, find_price, price_table, run_cost, shipped_prices
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
    "ENV_CLI_CACHE",
    "EVENT_KINDS",
    "OUTCOME_STATUSES",
    "RISKS",
    "TOOLS",
    "VERDICTS",
    "Adapter",
    "AgentEvent",
    "AgentProfile",
    "CliLocation",
    "Decision",
    "InstalledCli",
    "Invocation",
    "McpServer",
    "NoDecision",
    "Outcome",
    "ParseState",
    "PinnedCli",
    "Price",
    "ReadCursor",
    "RunReader",
    "RunView",
    "SessionPlan",
    "Tally",
    "animus_mcp_server",
    "cached_cli",
    "cli_cache_dir",
    "extract_decision",
    "find_acp_agent",
    "find_cli",
    "find_price",
    "get_adapter",
    "install_cli",
    "install_hint",
    "load_json_line",
    "new_run_id",
    "parse_reset_time",
    "pinned_clis",
    "price_table",
    "profile_from_config",
    "read_run",
    "run_cost",
    "shipped_prices",
    "start_agent_run",
    "takes_animus_mcp",
    "validate_decision",
]

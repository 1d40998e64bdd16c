"""OpenAI Codex CLI (`codex exec --json`): argv incl. `exec resume`, JSONL parser, outcome rules."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import (
    ParseState,
    _api_key_value,
    _as_dict,
    _first_error,
    _home_dir,
    _is_secret_env_name,
    _JsonLinesAdapter,
    _prompt_with_system,
)
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally, _looks_rate_limited
from animus.agents._profile import ANIMUS_MCP_ID, Invocation, SessionPlan, _LaunchRequest

_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_AT_RE = re.compile(
    r"try again at\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}),?\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?"
)
# Codex 0.171 leaves the date out when the reset is later today: "try again at 8:48 PM."
_AT_TIME_RE = re.compile(r"try again at\s+(\d{1,2}):(\d{2})\s*([AaPp]\.?[Mm]\.?)?(?![\d:])")
_IN_RE = re.compile(
    r"(?:try again|retry) in\s+~?\s*(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b",
    re.IGNORECASE,
)
_UNIT_SECS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _hour24(hour: int, ampm: str | None) -> int:
    ampm = (ampm or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        return hour + 12
    if ampm == "am" and hour == 12:
        return 0
    return hour


def parse_reset_time(message: str, *, now: float | None = None) -> int | None:
    """The epoch second a usage-limit message says to retry at, or None when it names no time.

    Reads "try again at Apr 11th, 2026 2:32 PM", "try again at 8:48 PM" (today, or tomorrow once that time
    has passed) and "try again in 5 minutes" / "retry in 41.5s". Codex prints clock times in local time.
    """
    base = time.time() if now is None else now
    match = _AT_RE.search(message)
    if match:
        month = _MONTHS.get(match.group(1).lower())
        if month is None:
            return None
        hour = _hour24(int(match.group(4)), match.group(6))
        try:
            return int(datetime(int(match.group(3)), month, int(match.group(2)), hour, int(match.group(5))).timestamp())
        except ValueError:
            return None
    match = _AT_TIME_RE.search(message)
    if match:
        hour, minute = _hour24(int(match.group(1)), match.group(3)), int(match.group(2))
        if hour > 23 or minute > 59:
            return None
        today = datetime.fromtimestamp(base).replace(hour=hour, minute=minute, second=0, microsecond=0)
        at = today if today.timestamp() > base else today + timedelta(days=1)
        return int(at.timestamp())
    match = _IN_RE.search(message)
    if match:
        return int(base + float(match.group(1)) * _UNIT_SECS[match.group(2)[0].lower()])
    return None


def _toml(value: Any) -> str:
    """A TOML value for ``-c key=value`` (JSON strings and arrays are valid TOML)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


class _CodexAdapter(_JsonLinesAdapter, tool="codex", binary="codex", resumable=True):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        env: dict[str, str] = dict(profile.env)
        sandbox = "read-only" if profile.read_only else "workspace-write"
        argv = [self.binary, "exec", "--json", "--sandbox", sandbox, "--skip-git-repo-check"]
        if profile.model:
            argv += ["-m", profile.model]
        key = _api_key_value(profile, request.environ)
        if profile.base_url:
            provider: dict[str, Any] = {"name": "animus", "base_url": profile.base_url, "wire_api": "responses"}
            if profile.api_key_env:
                provider["env_key"] = profile.api_key_env
            argv += ["-c", f"model_providers.animus={_toml(provider)}", "-c", "model_provider=animus"]
        if key is not None and profile.api_key_env:
            # Codex reads the key itself from the variable named by env_key; pass it through the allowlist.
            env[profile.api_key_env] = key
            if not profile.base_url:
                env["OPENAI_API_KEY"] = key
        for server in profile.mcp_servers:
            base = f"mcp_servers.{server.id}"
            argv += [
                "-c",
                f"{base}.command={_toml(server.command[0])}",
                "-c",
                f"{base}.args={_toml(server.command[1:])}",
                # Codex leaves an optional server that is not up yet out of the turn (its calls then fail with
                # "unsupported call: mcp__animustask_list"); seen on a busy 2-core machine with `animus mcp serve`.
                # A required server is waited for, and one that cannot start fails the run instead of silently
                # missing its tools (docs/real-clis.md, "Codex and MCP tool names").
                "-c",
                f"{base}.required=true",
            ]
            if server.id == ANIMUS_MCP_ID:
                # exec runs with approval policy "never", under which codex refuses every MCP tool call that
                # needs approval ("MCP tool call requires approval, but approval policy is never").
                argv += ["-c", f'{base}.default_tools_approval_mode="approve"']
            plain = {k: v for k, v in server.env.items() if not _is_secret_env_name(k)}
            if plain:
                argv += ["-c", f"{base}.env={_toml(plain)}"]
            # Secret values stay out of argv (it is recorded in spec.json): they travel in the env.
            env.update({k: v for k, v in server.env.items() if _is_secret_env_name(k)})
        argv += list(profile.extra_args)
        session = request.session or SessionPlan()
        if session.resume and session.id:
            argv += ["resume", session.id]
        argv.append(_prompt_with_system(profile, request.prompt))
        dirs = []
        if profile.isolate_home:
            home = _home_dir(request.state_dir, self.tool)
            env["CODEX_HOME"] = str(home)
            dirs.append(home)
        return Invocation(argv=argv, env_extra=env, stdin=None, dirs_to_create=dirs)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        kind = obj.get("type")
        if kind in ("item.completed", "item.started", "item.updated"):
            item = obj.get("item")
            if type(item) is dict:
                return self._item(kind, item, state)
        elif kind == "thread.started":
            tid = obj.get("thread_id")
            if tid:
                state.session_id = str(tid)
                return [ev._session(str(tid), None)]
        elif kind == "turn.started":
            return []
        elif kind == "turn.completed":
            usage = _as_dict(obj.get("usage"))
            return [
                ev._usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0),
                          cached_input_tokens=int(usage.get("cached_input_tokens") or 0)),
                ev._result(True, "turn completed", state.last_text),
            ]
        elif kind == "turn.failed":
            err = obj.get("error")
            message = str(err.get("message") if type(err) is dict else err or "turn failed")
            out = [ev._error(message, fatal=True)]
            if _looks_rate_limited(message):
                out.append(ev._rate_limit("rejected", parse_reset_time(message)))
            out.append(ev._result(False, f"turn.failed: {message}", state.last_text))
            return out
        elif kind == "error":
            message = str(obj.get("message") or "")
            if message.startswith("Reconnecting"):
                # Transport retries; the real cause, if any, follows in turn.failed.
                return [ev._error(message, fatal=False)]
            out = [ev._error(message, fatal=True)]
            if _looks_rate_limited(message):
                out.append(ev._rate_limit("rejected", parse_reset_time(message)))
            return out
        return [ev._raw(line)]

    def _item(self, kind: str, item: dict[str, Any], state: ParseState) -> list[AgentEvent]:
        # Early (Oct 2025) builds said item_type/assistant_message instead of type/agent_message.
        itype = item.get("type") or item.get("item_type")
        item_id = str(item.get("id"))
        done = kind == "item.completed"
        if itype in ("agent_message", "assistant_message"):
            if not done:
                return []
            text = str(item.get("text") or "")
            state.last_text = text
            return [ev._text(text)]
        if itype == "reasoning":
            return [ev._thinking(str(item.get("text") or ""))] if done else []
        if itype in ("command_execution", "mcp_tool_call", "file_change", "web_search"):
            out: list[AgentEvent] = []
            if item_id not in state.seen:
                state.seen.add(item_id)
                out.append(ev._tool_call(item_id, *_tool_of(itype, item)))
            if done:
                out.append(ev._tool_result(item_id, *_result_of(itype, item)))
            return out
        if itype == "error":
            return [ev._error(str(item.get("message") or ""), fatal=False)] if done else []
        return [] if kind == "item.updated" else [ev._raw(json.dumps({"type": kind, "item": item}))]

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        # turn.failed means failure even when codex exits 0.
        if tally.result is not None and not tally.result.get("ok"):
            return "failed", str(tally.result.get("reason"))
        fatal = _first_error(tally)
        if fatal is not None:
            return "failed", f"error: {fatal}"
        if exit_code not in (0, None):
            return "failed", f"exited with status {exit_code}"
        if tally.result is None:
            return "failed", "stream ended without turn.completed"
        return "ok", "turn completed"


def _tool_of(itype: str, item: dict[str, Any]) -> tuple[str, Any]:
    if itype == "command_execution":
        return "shell", {"command": item.get("command")}
    if itype == "mcp_tool_call":
        return f"{item.get('server')}.{item.get('tool')}", item.get("arguments")
    if itype == "file_change":
        return "file_change", {"changes": item.get("changes")}
    return "web_search", {"query": item.get("query")}


def _result_of(itype: str, item: dict[str, Any]) -> tuple[bool, Any]:
    status = item.get("status")
    if itype == "command_execution":
        return status == "completed" and item.get("exit_code") in (0, None), item.get("aggregated_output")
    if itype == "mcp_tool_call":
        err = item.get("error")
        res = item.get("result")
        output = err if err else (res.get("content") if type(res) is dict else res)
        return status == "completed" and not err, output
    if itype == "file_change":
        changes = item.get("changes") or []
        summary = ", ".join(f"{c.get('kind')} {c.get('path')}" for c in changes if type(c) is dict)
        return status == "completed", summary
    return True, item.get("action") or item.get("query")

"""Cursor CLI (`cursor-agent -p --output-format stream-json`): argv, parser, outcome rules (it reports no tokens)."""

from __future__ import annotations

import json
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import ParseState, _api_key_value, _as_dict, _JsonLinesAdapter, _prompt_with_system
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, SessionPlan, _LaunchRequest
from animus.domain.errors import InvalidInput

# Typed tools are named `readToolCall`, `shellToolCall`, …; animus names them `read`, `shell`, ….
_TOOL_SUFFIX = "ToolCall"


class _CursorAdapter(_JsonLinesAdapter, tool="cursor", binary="cursor-agent", resumable=True):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        if profile.base_url:
            raise InvalidInput(
                "cursor talks only to Cursor's own service: it has no base_url setting",
                hint="remove `base_url` from this agent, or use a tool that takes one (opencode, aider, codex)",
            )
        if profile.mcp_servers:
            raise InvalidInput(
                "cursor reads MCP servers only from its own .cursor/mcp.json, which animus does not write",
                hint="remove `mcp_servers` from this agent, or list the servers in the project's .cursor/mcp.json",
            )
        env: dict[str, str] = dict(profile.env)
        argv = [self.binary, "-p", "--output-format", "stream-json"]
        # --force: run commands and write files without asking; --mode plan: cursor's read-only planning mode.
        argv += ["--mode", "plan"] if profile.read_only else ["--force"]
        if profile.model:
            argv += ["--model", profile.model]
        session = request.session or SessionPlan()
        if session.resume and session.id:
            argv += ["--resume", session.id]
        argv += list(profile.extra_args)
        argv.append(_prompt_with_system(profile, request.prompt))
        key = _api_key_value(profile, request.environ)
        if key is not None:
            env["CURSOR_API_KEY"] = key
        return Invocation(argv=argv, env_extra=env, stdin=None)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        kind = obj.get("type")
        if kind == "system":
            sid = obj.get("session_id")
            if obj.get("subtype") == "init" and sid:
                state.session_id = str(sid)
                model = obj.get("model")
                return [ev._session(str(sid), str(model) if model else None)]
            return []
        if kind == "user":
            return []  # the prompt, echoed
        if kind == "assistant":
            content = _as_dict(obj.get("message")).get("content")
            parts = content if type(content) is list else []
            said = "".join(str(p.get("text") or "") for p in parts if type(p) is dict and p.get("type") == "text")
            return [ev._text(said)] if said else []
        if kind == "thinking":
            thought = obj.get("text")
            return [ev._thinking(thought)] if isinstance(thought, str) and thought else []
        if kind == "tool_call":
            return _tool_call_events(obj)
        if kind == "result":
            is_error = bool(obj.get("is_error"))
            text = obj.get("result")
            final = text if isinstance(text, str) and text else None
            reason = str(obj.get("subtype") or ("error" if is_error else "success"))
            if is_error and final:
                reason += f": {final[:300]}"
            return [ev._result(not is_error, reason, final)]
        return [ev._raw(line)]

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        # `is_error: true` fails the run whatever the exit code; no result line (a crash mid-tool) fails it too.
        return tally.result_verdict(exit_code, ok_reason=str((tally.result or {}).get("reason") or "success"))


def _tool_call_events(obj: dict[str, Any]) -> list[AgentEvent]:
    """`tool_call` started → a tool call; completed → its result. The call is `{"<kind>ToolCall": {args, result}}`."""
    call_id = str(obj.get("call_id") or "")
    call = _as_dict(obj.get("tool_call"))
    name, body = next(iter(call.items()), ("tool", {}))
    body = _as_dict(body)
    args: Any = body.get("args")
    if name == "function":
        # Tools without a typed shape (MCP tools among them): {"function": {"name", "arguments": "<json>"}}.
        name = str(body.get("name") or "function")
        raw = body.get("arguments")
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            args = raw
    elif name.endswith(_TOOL_SUFFIX):
        name = name[: -len(_TOOL_SUFFIX)] or name
    if obj.get("subtype") == "started":
        return [ev._tool_call(call_id, name, args)]
    if obj.get("subtype") == "completed":
        result = _as_dict(body.get("result"))
        if "success" in result:
            success = result["success"]
            ok_body = _as_dict(success)
            output = ok_body.get("stdout", ok_body.get("content", success))
            return [ev._tool_result(call_id, True, output)]
        failure = next(iter(result.values()), result) if result else "no result"
        failure_body = _as_dict(failure)
        message = failure_body.get("errorMessage") or failure_body.get("stderr") or failure
        return [ev._tool_result(call_id, False, message)]
    return []

"""Claude Code (`claude -p … --output-format stream-json --verbose`): argv, stream parser, outcome rules."""

from __future__ import annotations

import os
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import (
    ParseState,
    _api_key_value,
    _content_file,
    _home_dir,
    _JsonLinesAdapter,
    _safe_prompt,
)
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import _PERMISSION_MODES, ANIMUS_MCP_ID, Invocation, SessionPlan, _LaunchRequest
from animus.domain.errors import InvalidInput

_DEFAULT_MAX_RETRIES = "2"
_ANIMUS_RULE = f"mcp__{ANIMUS_MCP_ID}"
# What a read-only phase is refused (--disallowedTools): every tool that writes a file.
_WRITE_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
# What it may still run through Bash: git's reading commands.
_READ_ONLY_BASH = ("Bash(git diff:*)", "Bash(git log:*)", "Bash(git show:*)", "Bash(git status:*)")
#: HTTP status of a rate-limit or usage-limit rejection; with API-key auth no rate_limit_event precedes it.
_HTTP_TOO_MANY_REQUESTS = 429
# terminal_reason values that mean the run did not do its job (others, e.g. "completed", are fine).
_FAILED_TERMINAL = frozenset(
    {
        "api_error",
        "max_turns",
        "max_budget",
        "max_budget_usd",
        "error",
        "aborted",
        "interrupted",
        "refusal",
        "prompt_too_long",
        "error_during_execution",
    }
)


class _ClaudeAdapter(
    _JsonLinesAdapter,
    tool="claude",
    binary="claude",
    resumable=True,
    takes_session_id=True,  # --session-id <uuid>
):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        mode = profile.permission_mode or "acceptEdits"
        if mode not in _PERMISSION_MODES:
            raise InvalidInput(f"permission_mode {mode!r} not one of {'|'.join(_PERMISSION_MODES)}")
        if profile.read_only:
            # "default" asks, and headless claude denies what it would ask: so only the allowed tools run.
            mode = "default"
        env: dict[str, str] = dict(profile.env)
        if mode == "bypassPermissions" and os.geteuid() == 0:
            if (profile.env.get("IS_SANDBOX") or request.environ.get("IS_SANDBOX")) != "1":
                raise InvalidInput(
                    "Claude Code refuses permission_mode bypassPermissions when running as root",
                    hint="use permission_mode acceptEdits with allowed_tools, or set IS_SANDBOX=1 in the agent env "
                    "if this really is a disposable sandbox",
                )
            env["IS_SANDBOX"] = "1"
        allowed = list(profile.allowed_tools)
        if profile.read_only:
            # Bash stays allowed for git's reading commands only; deny rules win over allow rules anyway.
            allowed = [t for t in allowed if t not in _WRITE_TOOLS and t != "Bash"] + list(_READ_ONLY_BASH)
        argv = [self.binary, "-p", _safe_prompt(request.prompt), "--permission-mode", mode]
        if any(s.id == ANIMUS_MCP_ID for s in profile.mcp_servers) and _ANIMUS_RULE not in allowed:
            # Headless claude denies an MCP tool that no rule allows; the server-level rule allows all of its tools.
            allowed.append(_ANIMUS_RULE)
        if allowed:
            # --allowedTools is variadic: keep a flag right after it so nothing else is swallowed.
            argv += ["--allowedTools", *allowed]
        if profile.read_only:
            argv += ["--disallowedTools", *_WRITE_TOOLS]  # variadic too: a flag follows
        argv += ["--output-format", "stream-json", "--verbose"]
        session = request.session or SessionPlan.new()
        if session.resume and session.id:
            argv += ["--resume", session.id]
        elif session.id:
            argv += ["--session-id", session.id]
        if profile.model:
            argv += ["--model", profile.model]
        if profile.system_prompt:
            argv += ["--append-system-prompt", profile.system_prompt]
        files = {}
        dirs = []
        home = _home_dir(request.state_dir, self.tool)
        if profile.mcp_servers:
            servers = {
                s.id: {"command": s.command[0], "args": list(s.command[1:]), "env": dict(s.env)}
                for s in profile.mcp_servers
            }
            path, text = _content_file(home / "mcp", "mcp-config", {"mcpServers": servers})
            files[path] = text
            argv += ["--mcp-config", str(path), "--strict-mcp-config"]
        argv += list(profile.extra_args)
        if profile.base_url:
            env["ANTHROPIC_BASE_URL"] = profile.base_url
        key = _api_key_value(profile, request.environ)
        if key is not None:
            env["ANTHROPIC_API_KEY"] = key
        # Claude Code retries a failed request up to 10 times with backoff (over two minutes for a 401);
        # animus retries whole runs itself, so the CLI only rides out short blips.
        env.setdefault("CLAUDE_CODE_MAX_RETRIES", request.environ.get("CLAUDE_CODE_MAX_RETRIES") or _DEFAULT_MAX_RETRIES)
        if profile.isolate_home:
            env["CLAUDE_CONFIG_DIR"] = str(home)
            dirs.append(home)
        return Invocation(argv=argv, env_extra=env, stdin=None, files_to_write=files, dirs_to_create=dirs)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        kind = obj.get("type")
        out: list[AgentEvent] = []
        if kind == "assistant":
            message = obj.get("message")
            if type(message) is not dict:
                return [ev._raw(line)]
            self._session_from(obj, state, out, message.get("model"))
            content = message.get("content")
            if type(content) is list:
                for block in content:
                    if type(block) is not dict:
                        continue
                    btype = block.get("type")
                    if btype == "text":
                        out.append(ev._text(block.get("text") or ""))
                    elif btype == "tool_use":
                        out.append(ev._tool_call(str(block.get("id")), str(block.get("name")), block.get("input")))
                    elif btype == "thinking":
                        out.append(ev._thinking(block.get("thinking") or block.get("text") or ""))
            usage = message.get("usage")
            msg_id = message.get("id")
            # One API message is printed once per content block, each with the same usage.
            if type(usage) is dict and msg_id not in state.seen:
                if msg_id:
                    state.seen.add(msg_id)
                # cache reads are a tenth of the input price: kept apart, so a budget watched mid-run is priced right
                out.append(ev._usage(_input_tokens(usage), int(usage.get("output_tokens") or 0),
                                     cached_input_tokens=int(usage.get("cache_read_input_tokens") or 0)))
            if obj.get("error") or obj.get("is_api_error_message"):
                out.append(ev._error(f"api error: {obj.get('error')}", fatal=False))
            return out
        if kind == "user":
            message = obj.get("message")
            content = message.get("content") if type(message) is dict else None
            if type(content) is list:
                for block in content:
                    if type(block) is dict and block.get("type") == "tool_result":
                        out.append(
                            ev._tool_result(
                                str(block.get("tool_use_id")), not block.get("is_error"), block.get("content")
                            )
                        )
            return out or [ev._raw(line)]
        if kind == "result":
            return self._result(obj, state)
        if kind == "system":
            subtype = obj.get("subtype")
            if subtype == "init":
                sid = obj.get("session_id")
                if sid:
                    state.session_id = sid
                    return [ev._session(str(sid), obj.get("model"))]
            if subtype == "api_retry":
                msg = f"API retry {obj.get('attempt')}/{obj.get('max_retries')}: {obj.get('error')}"
                if obj.get("error_status"):
                    msg += f" (HTTP {obj.get('error_status')})"
                return [ev._error(msg, fatal=False)]
            self._session_from(obj, state, out, None)
            out.append(ev._raw(line))
            return out
        if kind == "rate_limit_event":
            info = obj.get("rate_limit_info")
            if type(info) is dict:
                resets = info.get("resetsAt")
                return [
                    ev._rate_limit(str(info.get("status")), int(resets) if isinstance(resets, int | float) else None)
                ]
        return [ev._raw(line)]

    @staticmethod
    def _session_from(obj: dict[str, Any], state: ParseState, out: list[AgentEvent], model: Any) -> None:
        sid = obj.get("session_id")
        if sid and state.session_id is None:
            state.session_id = sid
            out.append(ev._session(str(sid), model))

    def _result(self, obj: dict[str, Any], state: ParseState) -> list[AgentEvent]:
        out: list[AgentEvent] = []
        sid = obj.get("session_id")
        if sid and sid != state.session_id:
            state.session_id = sid
            out.append(ev._session(str(sid), None))
        subtype = str(obj.get("subtype") or "")
        is_error = obj.get("is_error")
        if is_error is None:
            is_error = subtype.startswith("error")
        terminal = obj.get("terminal_reason")
        api_status = obj.get("api_error_status")
        failed = bool(is_error) or api_status is not None or (terminal in _FAILED_TERMINAL)
        text = obj.get("result") if isinstance(obj.get("result"), str) else None
        if failed:
            errors = obj.get("errors")
            detail = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else text
            reason = str(terminal or subtype or "error")
            if api_status is not None:
                reason += f" (HTTP {api_status})"
            if detail:
                reason += f": {detail[:300]}"
        else:
            reason = str(terminal or subtype or "success")
        input_tokens = output_tokens = cached = 0
        model_usage = obj.get("modelUsage")
        usage = obj.get("usage")
        if type(model_usage) is dict and model_usage:
            for item in model_usage.values():
                if type(item) is dict:
                    input_tokens += (
                        int(item.get("inputTokens") or 0)
                        + int(item.get("cacheReadInputTokens") or 0)
                        + int(item.get("cacheCreationInputTokens") or 0)
                    )
                    output_tokens += int(item.get("outputTokens") or 0)
                    cached += int(item.get("cacheReadInputTokens") or 0)
        elif type(usage) is dict:
            input_tokens, output_tokens = _input_tokens(usage), int(usage.get("output_tokens") or 0)
            cached = int(usage.get("cache_read_input_tokens") or 0)
        cost = obj.get("total_cost_usd")
        if type(usage) is dict or type(model_usage) is dict or cost is not None:
            out.append(ev._usage(input_tokens, output_tokens, float(cost) if cost is not None else None, scope="total",
                                 cached_input_tokens=cached))
        if failed and api_status is not None:
            out.append(ev._error(reason, fatal=True))
            if api_status == _HTTP_TOO_MANY_REQUESTS:
                # The reset time is not in the stream; the engine waits its default back-off.
                out.append(ev._rate_limit("rejected", None))
        out.append(ev._result(not failed, reason, text))
        return out

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        # Only the result line decides: 2.1.332 exits 1 on a 401/429 but 0 on other failures, and a result with
        # subtype "success" can still carry is_error / terminal_reason "api_error" / api_error_status.
        if tally.result is None:
            if exit_code not in (0, None):
                return "failed", f"exited with status {exit_code} before a result line"
            return "failed", "stream ended without a result line"
        return ("ok" if tally.result.get("ok") else "failed"), str(tally.result.get("reason"))


def _input_tokens(usage: dict[str, Any]) -> int:
    return (
        int(usage.get("input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
        + int(usage.get("cache_read_input_tokens") or 0)
    )

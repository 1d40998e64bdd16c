"""Any Agent Client Protocol agent (tool ``acp``): the bridge's argv, and its JSON lines read as normalized events.

The run is the ACP bridge (``python -m animus.agents._acp_bridge``) under procs' detached supervisor,
like a CLI: the bridge is the ACP client of the agent named by ``command:`` and prints what the
session did, one JSON line each, in the ACP wire shape (see the bridge's docstring). This module
maps those lines: message chunks → ``text``, thought chunks and plans → ``thinking``, tool calls and
their updates (diffs included) → ``tool_call``/``tool_result``, a refused permission or file write →
a non-fatal ``error`` (so the refusal is in the run's log), the prompt's answer → ``usage`` and
``result``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import Adapter, ParseState, _api_key_value, _as_dict, load_json_line
from animus.agents._cli_cache import cached_cli, pinned_clis
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, _LaunchRequest
from animus.domain.errors import InvalidInput, Unavailable

_BRIDGE_MODULE = "animus.agents._acp_bridge"
_ENDED = ("completed", "failed")
_QUIET_UPDATES = frozenset(
    {
        "user_message_chunk",
        "available_commands_update",
        "current_mode_update",
        "config_option_update",
        "session_info_update",
        "usage_update",
    }
)


def find_acp_agent(program: str, path: str | None = None) -> str | None:
    """An ACP agent's ``command[0]`` found: a path as given, a name on ``path``, else a pinned CLI of that binary name in the install cache."""
    if os.sep in program:
        return program if os.access(os.path.expanduser(program), os.X_OK) else None
    if shutil.which(program, path=path):
        return program
    for pin in pinned_clis().values():
        if pin.binary == program and (cached := cached_cli(pin.tool)) is not None:
            return str(cached)
    return None


def _program(program: str, path: str | None) -> str:
    found = find_acp_agent(program, path)
    if found is not None:
        return found
    raise Unavailable(
        f"ACP agent {program!r} (tool acp) not found on PATH",
        hint="install it, put it on PATH, give its path as the first item of `command`, or run `animus doctor`",
    )


class _AcpAdapter(Adapter, tool="acp", resumable=True):
    """The ACP agent named by the profile's ``command`` (e.g. ``[gemini, --acp]``), driven through the bridge."""

    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        if not profile.command:
            raise InvalidInput("tool 'acp' needs `command:` (the ACP agent's argv, e.g. [gemini, --acp])")
        env = dict(profile.env)
        key = _api_key_value(profile, request.environ)
        if key is not None and profile.api_key_env:
            env[profile.api_key_env] = key
        if "IS_SANDBOX" not in env and request.environ.get("IS_SANDBOX") not in (None, "", "1"):
            # claude-code-acp offers Claude's bypass mode whenever IS_SANDBOX is set at all, and as root
            # the claude it starts then refuses `--dangerously-skip-permissions` unless the value is
            # exactly "1": an inherited IS_SANDBOX=yes fails every session. Blank it; an agent that
            # really wants the sandbox flag sets it in its own `env:`.
            env["IS_SANDBOX"] = ""
        path = env.get("PATH") or request.environ.get("PATH")
        command = [_program(profile.command[0], path), *profile.command[1:], *profile.extra_args]
        session = request.session
        job = {
            "command": command,
            "cwd": str(request.cwd),
            "prompt": request.prompt,
            "system_prompt": profile.system_prompt,
            "model": profile.model,
            "session_id": session.id if session else None,
            "resume": bool(session and session.resume),
            "read_only": profile.read_only,
            "mcp_servers": [{"id": s.id, "command": list(s.command), "env": dict(s.env)} for s in profile.mcp_servers],
        }
        argv = [sys.executable, "-m", _BRIDGE_MODULE]
        return Invocation(argv=argv, env_extra=env, stdin=json.dumps(job).encode())

    # -- reading --------------------------------------------------------------------------------
    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        obj = load_json_line(line)
        kind = obj.get("acp") if obj is not None else None
        if obj is None or not isinstance(kind, str):
            return [ev._raw(line)] if line.strip() else []
        if kind == "update":
            return self._update(_as_dict(obj.get("update")), line, state)
        if kind == "session":
            sid = str(obj.get("session_id") or "")
            if not sid:
                return []
            state.session_id = sid
            return [ev._session(sid, obj.get("model"))]
        if kind == "permission":
            call = _as_dict(obj.get("tool_call"))
            out = _first_sight(call, state)
            if not obj.get("granted"):
                title = call.get("title") or call.get("toolCallId")
                out.append(ev._error(f"permission refused for {title}: {obj.get('reason')}", fatal=False))
            return out
        if kind == "fs":
            if obj.get("ok"):
                return []
            return [ev._error(f"file {obj.get('op')} of {obj.get('path')} failed: {obj.get('error')}", fatal=False)]
        if kind == "prompt_response":
            return self._prompt_response(obj, state)
        if kind == "error":
            return [ev._error(str(obj.get("message") or ""), fatal=bool(obj.get("fatal", True)))]
        if kind == "initialize":
            return []
        return [ev._raw(line)]

    def _update(self, update: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        kind = update.get("sessionUpdate")
        if kind in ("agent_message_chunk", "agent_thought_chunk"):
            content = _as_dict(update.get("content"))
            text = content.get("text") if content.get("type") == "text" else None
            if not isinstance(text, str) or not text:
                return []
            if kind == "agent_thought_chunk":
                return [ev._thinking(text)]
            if update.get("messageId") is not None:
                state.start_message(str(update["messageId"]))
            state.message_parts.append(text)
            return [ev._text(text)]
        if kind in ("tool_call", "tool_call_update"):
            state.message_parts = []  # the final message is the one after the last tool call
            out = _first_sight(update, state)
            status = update.get("status")
            if status in _ENDED:
                out.append(ev._tool_result(str(update.get("toolCallId")), status == "completed", _tool_output(update)))
            return out
        if kind == "plan":
            entries = [_as_dict(e) for e in update.get("entries") or ()]
            lines = [f"[{e.get('status', '?')}] {e.get('content', '')}" for e in entries]
            return [ev._thinking("plan:\n" + "\n".join(lines))]
        if kind in _QUIET_UPDATES:
            return []
        return [ev._raw(line)]

    def _prompt_response(self, obj: dict[str, Any], state: ParseState) -> list[AgentEvent]:
        out: list[AgentEvent] = []
        tokens = _tokens(obj)
        if tokens is not None:
            out.append(ev._usage(tokens[0], tokens[1], scope="total", cached_input_tokens=tokens[2]))
        stop = str(obj.get("stopReason") or "unknown")
        final = "".join(state.message_parts) or None
        out.append(ev._result(stop == "end_turn", f"stop reason {stop}", final))
        return out

    # -- judging --------------------------------------------------------------------------------
    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        for error in tally.errors:
            if error.get("fatal"):
                return "failed", str(error.get("message"))
        if tally.result is not None:
            if not tally.result.get("ok"):
                return "failed", str(tally.result.get("reason"))
            if exit_code == 0:
                return "ok", "completed (end_turn)"
        if tally.result is None and exit_code == 0:
            return "failed", "the bridge ended without the prompt's answer"
        return super().verdict_of(tally, exit_code)


def _first_sight(call: dict[str, Any], state: ParseState) -> list[AgentEvent]:
    """A ``tool_call`` event the first time a tool call id is seen (in an update or a permission request)."""
    call_id = str(call.get("toolCallId") or "")
    key = "acp-tool:" + call_id
    if not call_id or key in state.seen:
        return []
    state.seen.add(key)
    detail: dict[str, Any] = {"kind": call.get("kind")}
    if call.get("rawInput") is not None:
        detail["input"] = call["rawInput"]
    paths = [_as_dict(loc).get("path") for loc in call.get("locations") or ()]
    if paths:
        detail["paths"] = paths
    return [ev._tool_call(call_id, str(call.get("title") or call.get("kind") or "tool"), detail)]


def _tool_output(update: dict[str, Any]) -> str:
    """The tool's content as text: its text blocks, a line per diff, else its raw output."""
    parts: list[str] = []
    for item in update.get("content") or ():
        item = _as_dict(item)
        if item.get("type") == "diff":
            new = str(item.get("newText") or "")
            parts.append(f"diff {item.get('path')}: {len(new.splitlines())} line(s) now")
        elif item.get("type") == "content":
            block = _as_dict(item.get("content"))
            if block.get("type") == "text":
                parts.append(str(block.get("text") or ""))
        elif item.get("type") == "terminal":
            parts.append(f"terminal {item.get('terminalId')}")
    if not parts and update.get("rawOutput") is not None:
        raw = update["rawOutput"]
        parts.append(raw if isinstance(raw, str) else json.dumps(raw, default=str))
    return "\n".join(parts)


def _tokens(obj: dict[str, Any]) -> tuple[int, int, int] | None:
    """(input, output, cached input) of the turn: the protocol's ``usage``, else gemini's ``_meta.quota``."""
    usage = _as_dict(obj.get("usage"))
    if usage:
        return int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0), int(usage.get("cachedReadTokens") or 0)
    count = _as_dict(_as_dict(_as_dict(obj.get("_meta")).get("quota")).get("token_count"))
    if count:
        return int(count.get("input_tokens") or 0), int(count.get("output_tokens") or 0), 0
    return None

"""The line shapes each impersonated CLI prints (Claude, Codex, Gemini, opencode, aider; Cursor in _cursor.py)."""

from __future__ import annotations

import random
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any

_B62 = string.ascii_letters + string.digits

_DEFAULT_MODELS = {
    "claude": "claude-sonnet-4-5-20250929",
    "codex": "gpt-5-codex",
    "gemini": "gemini-2.5-pro",
    "opencode": "anthropic/claude-sonnet-4-5",
    "aider": "gpt-4o",
    "cursor": "Claude 4.5 Sonnet",  # cursor's init line names the model by its display name
}


def _rid(prefix: str, n: int = 24) -> str:
    return prefix + "".join(random.choice(_B62) for _ in range(n))


def _thread_id() -> str:
    """A codex-style UUIDv7 thread id (time-ordered)."""
    ms = int(time.time() * 1000)
    rand = uuid.uuid4().hex
    h = f"{ms:012x}7{rand[:3]}{'89ab'[random.randrange(4)]}{rand[3:18]}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Usage:
    def __init__(
        self, input_tokens: int = 0, output_tokens: int = 0, cost_usd: float | None = None, cached_input_tokens: int = 0
    ) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost_usd = cost_usd
        self.cached_input_tokens = cached_input_tokens  # a part of input_tokens


class _Persona:
    """Builds one CLI's lines; each method returns the lines (dicts, or str for aider) to print."""

    tool = ""

    def __init__(self, session_id: str, model: str, cwd: str, prompt: str) -> None:
        self.session_id = session_id
        self.model = model
        self.cwd = cwd
        self.prompt = prompt
        self.turns = 0
        self.started = time.time()

    def start(self) -> list[Any]:
        return []

    def text(self, text: str) -> list[Any]:
        raise NotImplementedError

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        raise NotImplementedError

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        raise NotImplementedError

    def tool_name(self, step: str, name: str | None) -> str:
        return name or step

    def new_call_id(self, name: str) -> str:
        return _rid("call_")

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        return []

    def usage_now(self, input_tokens: int, output_tokens: int) -> list[Any]:
        """A line that reports usage while the run goes on (most CLIs report it only at their end)."""
        return []

    def error(self, message: str) -> list[Any]:
        return []

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        return self.error(f"Rate limit exceeded (429). Try again after {resets_at}."), 1


class _ClaudePersona(_Persona):
    tool = "claude"

    def _base(self) -> dict[str, Any]:
        return {"parent_tool_use_id": None, "session_id": self.session_id, "uuid": str(uuid.uuid4())}

    def start(self) -> list[Any]:
        return [
            {
                "type": "system",
                "subtype": "init",
                "cwd": self.cwd,
                "session_id": self.session_id,
                "tools": [
                    "Task",
                    "Bash",
                    "Glob",
                    "Grep",
                    "ExitPlanMode",
                    "Read",
                    "Edit",
                    "MultiEdit",
                    "Write",
                    "NotebookEdit",
                    "WebFetch",
                    "TodoWrite",
                    "WebSearch",
                    "BashOutput",
                    "KillBash",
                ],
                "mcp_servers": [],
                "model": self.model,
                "permissionMode": "acceptEdits",
                "slash_commands": ["add-dir", "agents", "clear", "compact"],
                "apiKeySource": "ANTHROPIC_API_KEY",
                "output_style": "default",
                "uuid": str(uuid.uuid4()),
            }
        ]

    def _assistant(self, block: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self.turns += 1
        usage = {
            "input_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 12,
            "service_tier": "standard",
        }
        msg = {
            "id": _rid("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return {"type": "assistant", "message": msg, **self._base(), **extra}

    def text(self, text: str) -> list[Any]:
        return [self._assistant({"type": "text", "text": text})]

    def usage_now(self, input_tokens: int, output_tokens: int) -> list[Any]:
        # every API message of a real stream carries its usage; Claude Code prints dollars only in its result
        line = self._assistant({"type": "text", "text": "Working."})
        line["message"]["usage"] = {**line["message"]["usage"], "input_tokens": input_tokens, "output_tokens": output_tokens}
        return [line]

    def new_call_id(self, name: str) -> str:
        return _rid("toolu_01", 22)

    def tool_name(self, step: str, name: str | None) -> str:
        return name or {"write": "Write", "edit": "Edit", "shell": "Bash"}.get(step, step)

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        return [self._assistant({"type": "tool_use", "id": call_id, "name": name, "input": args})]

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        block: dict[str, Any] = {"tool_use_id": call_id, "type": "tool_result", "content": output}
        if not ok:
            block["is_error"] = True
        return [{"type": "user", "message": {"role": "user", "content": [block]}, **self._base()}]

    def _result(self, final_text: str, usage: _Usage, **over: Any) -> dict[str, Any]:
        ms = int((time.time() - self.started) * 1000)
        return {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "duration_ms": ms,
            "duration_api_ms": ms,
            "num_turns": max(self.turns, 1),
            "result": final_text,
            "session_id": self.session_id,
            "total_cost_usd": usage.cost_usd or 0,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": usage.output_tokens,
                "server_tool_use": {"web_search_requests": 0},
                "service_tier": "standard",
            },
            "permission_denials": [],
            "uuid": str(uuid.uuid4()),
            **over,
        }

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        return [self._result(final_text, usage)]

    def api_error_as_success(self, status: int) -> list[Any]:
        text = f"API Error: {status} " + '{"type":"error","error":{"type":"invalid_request_error","message":"denied"}}'
        line = self._assistant({"type": "text", "text": text}, error="oauth_org_not_allowed", is_api_error_message=True)
        result = self._result(text, _Usage(), is_error=True, api_error_status=status, terminal_reason="api_error")
        return [line, result]

    def error(self, message: str) -> list[Any]:
        return [self._result(message, _Usage(), subtype="error_during_execution", is_error=True)]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        info = {
            "status": "rejected",
            "resetsAt": resets_at,
            "rateLimitType": "five_hour",
            "overageStatus": "rejected",
            "overageDisabledReason": "org_level_disabled",
            "isUsingOverage": False,
        }
        event = {
            "type": "rate_limit_event",
            "rate_limit_info": info,
            "uuid": str(uuid.uuid4()),
            "session_id": self.session_id,
        }
        text = "Claude AI usage limit reached|" + str(resets_at)
        result = self._result(text, _Usage(), is_error=True, api_error_status=429, terminal_reason="api_error")
        return [event, result], 0


class _CodexPersona(_Persona):
    tool = "codex"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items = 0

    def _item_id(self) -> str:
        self.items += 1
        return f"item_{self.items - 1}"

    def start(self) -> list[Any]:
        return [{"type": "thread.started", "thread_id": self.session_id}, {"type": "turn.started"}]

    def text(self, text: str) -> list[Any]:
        return [{"type": "item.completed", "item": {"id": self._item_id(), "type": "agent_message", "text": text}}]

    def new_call_id(self, name: str) -> str:
        return self._item_id()

    def _item(self, call_id: str, name: str, args: Any, output: str | None, ok: bool) -> dict[str, Any]:
        done = output is not None
        if name in ("write", "edit"):
            kind = "add" if name == "write" else "update"
            return {
                "id": call_id,
                "type": "file_change",
                "changes": [{"path": args.get("path"), "kind": kind}],
                "status": ("completed" if ok else "failed") if done else "in_progress",
            }
        if name in ("shell", "Bash", "bash"):
            command = args.get("command") if isinstance(args, dict) else str(args)
            return {
                "id": call_id,
                "type": "command_execution",
                "command": f"/bin/bash -lc {command!r}",
                "aggregated_output": output or "",
                "exit_code": (0 if ok else 1) if done else None,
                "status": ("completed" if ok else "failed") if done else "in_progress",
            }
        server, _, tool = name.partition(".")
        return {
            "id": call_id,
            "type": "mcp_tool_call",
            "server": server if tool else "animus",
            "tool": tool or server,
            "arguments": args,
            "result": {"content": [{"type": "text", "text": output}], "structured_content": None}
            if done and ok
            else None,
            "error": None if ok or not done else {"message": output},
            "status": ("completed" if ok else "failed") if done else "in_progress",
        }

    def tool_name(self, step: str, name: str | None) -> str:
        return name or step

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        if name in ("write", "edit"):
            return []
        return [{"type": "item.started", "item": self._item(call_id, name, args, None, True)}]

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        return [{"type": "item.completed", "item": self._item(call_id, name, args, output, ok)}]

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        return [
            {
                "type": "turn.completed",
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "cached_input_tokens": usage.cached_input_tokens,
                    "cache_write_input_tokens": 0,
                    "output_tokens": usage.output_tokens,
                    "reasoning_output_tokens": 0,
                },
            }
        ]

    def error(self, message: str) -> list[Any]:
        return [{"type": "turn.failed", "error": {"message": message}}]

    def turn_failed(self) -> list[Any]:
        return [
            {"type": "error", "message": "Reconnecting... 1/5 (stream disconnected before completion)"},
            {"type": "error", "message": "Reconnecting... 2/5 (stream disconnected before completion)"},
            {
                "type": "turn.failed",
                "error": {
                    "message": f"unexpected status 404 Not Found: The model `{self.model}` "
                    "does not exist or you do not have access to it."
                },
            },
        ]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        when = datetime.fromtimestamp(resets_at)
        day = when.day
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        hour = when.hour % 12 or 12
        text = (
            f"You've hit your usage limit. Please try again at {when.strftime('%b')} {day}{suffix}, "
            f"{when.year} {hour}:{when.minute:02d} {'PM' if when.hour >= 12 else 'AM'}."
        )
        return [{"type": "error", "message": text}, {"type": "turn.failed", "error": {"message": text}}], 1


class _GeminiPersona(_Persona):
    tool = "gemini"

    def _ev(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "timestamp": _now_iso(), **fields}

    def start(self) -> list[Any]:
        return [
            self._ev("init", session_id=self.session_id, model=self.model),
            self._ev("message", role="user", content=self.prompt),
        ]

    def text(self, text: str) -> list[Any]:
        return [self._ev("message", role="assistant", content=text, delta=True)]

    def new_call_id(self, name: str) -> str:
        return f"{name}-{int(time.time() * 1000)}-{uuid.uuid4().hex[:13]}"

    def tool_name(self, step: str, name: str | None) -> str:
        return name or {"write": "write_file", "edit": "replace", "shell": "run_shell_command"}.get(step, step)

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        return [self._ev("tool_use", tool_name=name, tool_id=call_id, parameters=args)]

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        if ok:
            return [self._ev("tool_result", tool_id=call_id, status="success", output=output)]
        return [
            self._ev(
                "tool_result",
                tool_id=call_id,
                status="error",
                output=output,
                error={"type": "tool_error", "message": output},
            )
        ]

    def _stats(self, usage: _Usage) -> dict[str, Any]:
        return {
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached": usage.cached_input_tokens,
            "input": usage.input_tokens,
            "duration_ms": int((time.time() - self.started) * 1000),
            "tool_calls": 0,
            "models": {},
        }

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        return [self._ev("result", status="success", stats=self._stats(usage))]

    def error(self, message: str) -> list[Any]:
        return [
            self._ev("error", severity="error", message=message),
            self._ev("result", status="error", error={"type": "Error", "message": message}, stats=self._stats(_Usage())),
        ]

    def error_then_success(self) -> list[Any]:
        return [
            self._ev("error", severity="error", message="Maximum session turns exceeded"),
            self._ev("result", status="success", stats=self._stats(_Usage())),
        ]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        msg = "[API Error: You have exhausted your capacity on this model. Your quota will reset after 2h. (429)]"
        return self.error(msg), 1


class _OpencodePersona(_Persona):
    tool = "opencode"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.message_id = _rid("msg_", 26)
        self.step_has_tools = False
        self.spent_in = self.spent_out = 0

    def _ev(self, kind: str, part: dict[str, Any]) -> dict[str, Any]:
        # opencode 1.18.33 gives every part its own id and repeats the session id in it
        part = {"id": _rid("prt_", 26), "sessionID": self.session_id, **part}
        return {"type": kind, "timestamp": int(time.time() * 1000), "sessionID": self.session_id, "part": part}

    def _step_start(self) -> dict[str, Any]:
        return self._ev("step_start", {"messageID": self.message_id, "type": "step-start"})

    def _step_finish(self, reason: str, usage: _Usage) -> dict[str, Any]:
        tokens = {
            "total": usage.input_tokens + usage.output_tokens,
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "reasoning": 0,
            "cache": {"write": 0, "read": 0},
        }
        return self._ev(
            "step_finish",
            {
                "reason": reason,
                "messageID": self.message_id,
                "type": "step-finish",
                "tokens": tokens,
                "cost": usage.cost_usd or 0,
            },
        )

    def start(self) -> list[Any]:
        return [self._step_start()]

    def _next_step_if_tools(self) -> list[Any]:
        if not self.step_has_tools:
            return []
        self.step_has_tools = False
        # Each step reports its own tokens; the final step gets the rest of the scripted totals.
        self.spent_in, self.spent_out = self.spent_in + 10, self.spent_out + 5
        done = self._step_finish("tool-calls", _Usage(10, 5, 0))
        self.message_id = _rid("msg_", 26)
        return [done, self._step_start()]

    def text(self, text: str) -> list[Any]:
        lines = self._next_step_if_tools()
        now = int(time.time() * 1000)
        part = {"messageID": self.message_id, "type": "text", "text": text, "time": {"start": now, "end": now}}
        return [*lines, self._ev("text", part)]

    def tool_name(self, step: str, name: str | None) -> str:
        return name or {"shell": "bash"}.get(step, step)

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        return []

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        self.step_has_tools = True
        now = int(time.time() * 1000)
        state: dict[str, Any] = {
            "status": "completed" if ok else "error",
            "input": args,
            "time": {"start": now, "end": now},
        }
        state["output" if ok else "error"] = output
        if ok:
            state["metadata"], state["title"] = {}, str(args.get("filePath", name) if isinstance(args, dict) else name)
        part = {"type": "tool", "tool": name, "callID": call_id, "state": state, "messageID": self.message_id}
        return [self._ev("tool_use", part)]

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        lines = self._next_step_if_tools()
        rest = _Usage(
            max(usage.input_tokens - self.spent_in, 0), max(usage.output_tokens - self.spent_out, 0), usage.cost_usd
        )
        return [*lines, self._step_finish("stop", rest)]

    def error(self, message: str) -> list[Any]:
        return [
            {
                "type": "error",
                "timestamp": int(time.time() * 1000),
                "sessionID": self.session_id,
                "error": {"name": "APIError", "data": {"message": message}},
            }
        ]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        # The real 1.18.33 line after its own five retries: the provider's message, its status and headers, exit 1.
        retry_after = str(max(resets_at - int(time.time()), 0))
        data = {
            "message": "Rate limit exceeded",
            "statusCode": 429,
            "isRetryable": True,
            "responseHeaders": {"content-type": "application/json", "retry-after": retry_after},
            "responseBody": '{"error": {"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}}',
        }
        line = {"type": "error", "timestamp": int(time.time() * 1000), "sessionID": self.session_id,
                "error": {"name": "APIError", "data": data}}
        return [line], 1


class _AiderPersona(_Persona):
    tool = "aider"

    def start(self) -> list[Any]:
        return [
            "Aider v0.86.2",
            f"Model: {self.model} with whole edit format",
            "Git repo: .git with 3 files",
            "Repo-map: using 1024 tokens, auto refresh",
            "",
        ]

    def text(self, text: str) -> list[Any]:
        return text.splitlines() or [""]

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        if name == "shell":
            return [f"Running {args.get('command') if isinstance(args, dict) else args}"]
        return []

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        if name in ("write", "edit"):
            path = args.get("path") if isinstance(args, dict) else "?"
            return [str(path), f"Applied edit to {path}" if ok else f"Failed to apply edit to {path}"]
        return output.splitlines()

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        def short(n: int) -> str:
            return str(n) if n < 1000 else (f"{n / 1000:.1f}k" if n < 10000 else f"{round(n / 1000)}k")

        cost = usage.cost_usd or 0
        return [
            f"Tokens: {short(usage.input_tokens)} sent, {short(usage.output_tokens)} received. "
            f"Cost: ${cost:.4f} message, ${cost:.4f} session."
        ]

    def error(self, message: str) -> list[Any]:
        return [message]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        # aider 0.86.2: every try prints these lines on stdout; after the last it gives up and exits 0.
        lines = ["litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit exceeded ",
                 "The API provider has rate limited you. Try again later or check your quotas."]
        return [*lines, "Retrying in 0.2 seconds...", *lines, "", ""], 0


PERSONAS: dict[str, type[_Persona]] = {
    p.tool: p for p in (_ClaudePersona, _CodexPersona, _GeminiPersona, _OpencodePersona, _AiderPersona)
}


def _new_session_id(tool: str) -> str:
    if tool == "codex":
        return _thread_id()
    if tool == "opencode":
        return _rid("ses_", 26)
    return str(uuid.uuid4())

"""opencode (`opencode run --format json`): argv, inline provider config, parser, outcome rules."""

from __future__ import annotations

import json
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import (
    ParseState,
    _api_key_value,
    _as_dict,
    _home_dir,
    _JsonLinesAdapter,
    _prompt_with_system,
)
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, SessionPlan, _LaunchRequest

_HTTP_TOO_MANY_REQUESTS = 429
# A read-only phase's bash: everything denied but git's reading commands (the later, more specific rules win).
_READ_ONLY_BASH = {"*": "deny", "git diff*": "allow", "git log*": "allow", "git show*": "allow", "git status*": "allow"}


class _OpencodeAdapter(_JsonLinesAdapter, tool="opencode", binary="opencode", resumable=True):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        env: dict[str, str] = dict(profile.env)
        argv = [self.binary, "run", "--format", "json"]
        model = profile.model
        config: dict[str, Any] = {"permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"}}
        if profile.read_only:
            # opencode's plan agent does not edit; the permissions make sure (a denied tool call fails).
            argv += ["--agent", "plan"]
            config["permission"] = {"edit": "deny", "bash": dict(_READ_ONLY_BASH), "webfetch": "allow"}
        key = _api_key_value(profile, request.environ)
        if profile.base_url:
            options: dict[str, Any] = {"baseURL": profile.base_url}
            if profile.api_key_env:
                options["apiKey"] = "{env:" + profile.api_key_env + "}"
            model_id = (model or "default").split("/", 1)[-1]
            config["provider"] = {
                "animus": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "animus",
                    "options": options,
                    "models": {model_id: {"name": model_id}},
                }
            }
            model = f"animus/{model_id}"
        if key is not None and profile.api_key_env:
            env[profile.api_key_env] = key
        if profile.mcp_servers:
            config["mcp"] = {
                s.id: {"type": "local", "command": list(s.command), "environment": dict(s.env), "enabled": True}
                for s in profile.mcp_servers
            }
        if model:
            argv += ["-m", model]
        session = request.session or SessionPlan()
        if session.resume and session.id:
            argv += ["--session", session.id]
        argv += list(profile.extra_args)
        argv.append(_prompt_with_system(profile, request.prompt))
        env["OPENCODE_CONFIG_CONTENT"] = json.dumps(config, separators=(",", ":"))
        dirs = []
        if profile.isolate_home:
            home = _home_dir(request.state_dir, self.tool)
            for xdg in ("config", "data", "state", "cache"):
                env[f"XDG_{xdg.upper()}_HOME"] = str(home / xdg)
                dirs.append(home / xdg)
        return Invocation(argv=argv, env_extra=env, stdin=None, dirs_to_create=dirs)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        out: list[AgentEvent] = []
        sid = obj.get("sessionID")
        if sid and sid != state.session_id:
            state.session_id = str(sid)
            out.append(ev._session(str(sid), None))
        kind = obj.get("type")
        part = _as_dict(obj.get("part"))
        if kind == "text":
            text = str(part.get("text") or "")
            state.start_message(part.get("messageID"))
            state.message_parts.append(text)
            out.append(ev._text(text))
        elif kind == "tool_use":
            st = _as_dict(part.get("state"))
            call_id = str(part.get("callID") or part.get("id"))
            ok = st.get("status") == "completed"
            out.append(ev._tool_call(call_id, str(part.get("tool")), st.get("input")))
            out.append(ev._tool_result(call_id, ok, st.get("output") if ok else st.get("error", st.get("output"))))
        elif kind == "step_finish":
            tokens = _as_dict(part.get("tokens"))
            cache = _as_dict(tokens.get("cache"))
            cost = part.get("cost")
            out.append(
                ev._usage(
                    int(tokens.get("input") or 0) + int(cache.get("read") or 0) + int(cache.get("write") or 0),
                    int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
                    float(cost) if isinstance(cost, int | float) else 0.0,
                )
            )
            if part.get("reason") == "stop":
                final = "".join(state.message_parts) if state.message_key == part.get("messageID") else None
                out.append(ev._result(True, "stop", final or None))
        elif kind == "reasoning":
            out.append(ev._thinking(str(part.get("text") or "")))
        elif kind == "error":
            out.append(ev._error(_error_message(obj.get("error")), fatal=True))
            data = _as_dict(_as_dict(obj.get("error")).get("data"))
            if data.get("statusCode") == _HTTP_TOO_MANY_REQUESTS:
                # opencode 1.18.33 retried the 429 five times (honouring retry-after) before this line.
                out.append(ev._rate_limit("rejected", None))
        elif kind in ("step_start", "done"):
            pass
        else:
            out.append(ev._raw(line))
        return out

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        # Success is exit 0 and no error event; older builds print no final `done` line.
        if tally.errors:
            return "failed", f"error: {tally.errors[0].get('message')}"
        if exit_code not in (0, None):
            return "failed", f"exited with status {exit_code}"
        return "ok", "exited 0"


def _error_message(err: Any) -> str:
    if type(err) is dict:
        data = err.get("data")
        if type(data) is dict and data.get("message"):
            return str(data["message"])
        return str(err.get("message") or err.get("name") or json.dumps(err))
    return str(err)

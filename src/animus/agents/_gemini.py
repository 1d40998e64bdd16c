"""Gemini CLI (`gemini -p … --output-format stream-json`): argv, settings file, parser, outcome rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from animus.agents import _events as ev
from animus.agents._adapter import (
    ParseState,
    _api_key_value,
    _first_error,
    _home_dir,
    _JsonLinesAdapter,
    _prompt_with_system,
)
from animus.agents._codex import parse_reset_time
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally, _looks_rate_limited
from animus.agents._profile import ANIMUS_MCP_ID, AgentProfile, Invocation, SessionPlan, _LaunchRequest
from animus.domain.errors import InvalidInput

_EXIT_AUTH_ERROR = 41
_EXIT_INPUT_ERROR = 42
_EXIT_UNTRUSTED_FOLDER = 55
_EXIT_TURN_LIMIT = 53
_QUOTA_WORDS = ("exhausted", "resource_exhausted")


class _GeminiAdapter(_JsonLinesAdapter, tool="gemini", binary="gemini", resumable=True):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        if profile.base_url and not profile.model:
            raise InvalidInput(
                "gemini with base_url needs an explicit model (otherwise it first calls a routing model)",
                hint="set `model:` in the agent profile, e.g. gemini-2.5-pro",
            )
        env: dict[str, str] = dict(profile.env)
        argv = [
            self.binary,
            "-p",
            _prompt_with_system(profile, request.prompt),
            "--output-format",
            "stream-json",
            "--approval-mode",
            "plan" if profile.read_only else "yolo",  # plan: gemini's read-only mode
        ]
        if profile.model:
            argv += ["-m", profile.model]
        session = request.session or SessionPlan()
        if session.resume and session.id:
            argv += ["--resume", session.id]
        argv += list(profile.extra_args)
        key = _api_key_value(profile, request.environ)
        if key is not None:
            env["GEMINI_API_KEY"] = key
        if profile.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = profile.base_url
        # Headless gemini refuses an untrusted cwd (exit 55); this trusts it without touching any file.
        env.setdefault("GEMINI_CLI_TRUST_WORKSPACE", "true")
        files: dict[Path, str] = {}
        dirs: list[Path] = []
        if profile.isolate_home:
            # GEMINI_CLI_HOME replaces the home directory for gemini only: its state and user settings live in
            # <it>/.gemini/. A GEMINI_CLI_SYSTEM_SETTINGS_PATH file would be skipped unless it and every
            # ancestor directory are root-owned, so the settings go in the user settings file instead.
            home = _home_dir(request.state_dir, self.tool)
            env["GEMINI_CLI_HOME"] = str(home)
            files[home / ".gemini" / "settings.json"] = json.dumps(_settings(profile, key), indent=2, sort_keys=True)
            trusted = {str(os.path.abspath(request.cwd)): "TRUST_FOLDER"}
            files[home / ".gemini" / "trustedFolders.json"] = json.dumps(trusted, indent=2)
            dirs.append(home)
        elif profile.mcp_servers:
            raise InvalidInput(
                "gemini takes MCP servers only from a settings file, which animus writes only with isolate_home",
                hint="set `isolate_home: true` for this agent, or list the servers in your own ~/.gemini/settings.json",
            )
        return Invocation(argv=argv, env_extra=env, stdin=None, files_to_write=files, dirs_to_create=dirs)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        kind = obj.get("type")
        if kind == "message":
            if obj.get("role") != "assistant":
                return []
            content = obj.get("content")
            text = content if isinstance(content, str) else ""
            if not obj.get("delta"):
                state.message_parts = []
            state.message_parts.append(text)
            return [ev._text(text)]
        if kind == "tool_use":
            state.message_parts = []
            return [ev._tool_call(str(obj.get("tool_id")), str(obj.get("tool_name")), obj.get("parameters"))]
        if kind == "tool_result":
            err = obj.get("error")
            output = obj.get("output")
            if output is None and err is not None:
                output = err.get("message") if type(err) is dict else err
            return [ev._tool_result(str(obj.get("tool_id")), obj.get("status") == "success", output)]
        if kind == "init":
            sid = obj.get("session_id")
            if sid:
                state.session_id = str(sid)
                return [ev._session(str(sid), obj.get("model"))]
            return []
        if kind == "error":
            fatal = obj.get("severity", "error") == "error"
            message = str(obj.get("message") or "")
            out = [ev._error(message, fatal=fatal)]
            if fatal and _quota_error(message):
                out.append(ev._rate_limit("rejected", parse_reset_time(message)))
            return out
        if kind == "result":
            return self._result(obj, state)
        if kind is None and "response" in obj:
            return self._json_document(obj)
        return [ev._raw(line)]

    def _result(self, obj: dict[str, Any], state: ParseState) -> list[AgentEvent]:
        out: list[AgentEvent] = []
        stats = obj.get("stats")
        if type(stats) is dict:
            out.append(
                ev._usage(int(stats.get("input_tokens") or 0), int(stats.get("output_tokens") or 0), scope="total",
                          cached_input_tokens=int(stats.get("cached") or 0))
            )
        status = str(obj.get("status") or "")
        err = obj.get("error")
        reason = status or "result"
        if err:
            reason += f": {err.get('message') if type(err) is dict else err}"
        final = "".join(state.message_parts) or None
        if status != "success" and err:
            message = str(err.get("message") if type(err) is dict else err)
            if _quota_error(message):
                # A TerminalQuotaError (exit 173) is not retried by gemini and prints no error event.
                out.append(ev._rate_limit("rejected", parse_reset_time(message)))
        out.append(ev._result(status == "success", reason, final))
        return out

    @staticmethod
    def _json_document(obj: dict[str, Any]) -> list[AgentEvent]:
        """The single-document ``--output-format json`` shape: {session_id?, response, stats, error?}."""
        out: list[AgentEvent] = []
        if obj.get("session_id"):
            out.append(ev._session(str(obj["session_id"]), None))
        response = obj.get("response")
        if isinstance(response, str):
            out.append(ev._text(response))
        stats = obj.get("stats")
        models = stats.get("models") if type(stats) is dict else None
        if type(models) is dict:
            tin = sum(int((m.get("tokens") or {}).get("prompt") or 0) for m in models.values() if type(m) is dict)
            tout = sum(int((m.get("tokens") or {}).get("candidates") or 0) for m in models.values() if type(m) is dict)
            out.append(ev._usage(tin, tout, scope="total"))
        err = obj.get("error")
        if err:
            message = str(err.get("message") if type(err) is dict else err)
            out.append(ev._error(message, fatal=True))
            if _quota_error(message):
                out.append(ev._rate_limit("rejected", parse_reset_time(message)))
        out.append(ev._result(not err, "error" if err else "success", response if isinstance(response, str) else None))
        return out

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        if exit_code == _EXIT_AUTH_ERROR:
            return "failed", (
                f"authentication error (exit {_EXIT_AUTH_ERROR}): no usable auth method; with base_url gemini needs "
                "security.auth.selectedType gemini-api-key in its settings (animus writes it when isolate_home is on)"
            )
        if exit_code == _EXIT_UNTRUSTED_FOLDER:
            return "failed", f"untrusted working directory (exit {_EXIT_UNTRUSTED_FOLDER})"
        if exit_code == _EXIT_INPUT_ERROR:
            return "failed", f"input error (exit {_EXIT_INPUT_ERROR})"
        if exit_code == _EXIT_TURN_LIMIT:
            return "failed", f"turn limit exceeded (exit {_EXIT_TURN_LIMIT})"
        # An error event with severity error fails the run even when a `status: success` result follows.
        fatal = _first_error(tally)
        if fatal is not None:
            return "failed", f"error: {fatal}"
        return tally.result_verdict(exit_code)


def _settings(profile: AgentProfile, key: str | None) -> dict[str, Any]:
    """The user settings file of an isolated home: auth selection, folder trust off, MCP servers."""
    security: dict[str, Any] = {"folderTrust": {"enabled": False}}
    if key is not None or profile.base_url:
        # Without it gemini picks auth "gateway" for GOOGLE_GEMINI_BASE_URL and exits 41 (invalid auth method).
        security["auth"] = {"selectedType": "gemini-api-key"}
    settings: dict[str, Any] = {"security": security}
    if profile.mcp_servers:
        # trust: animus's own server is called without a confirmation prompt (headless has no one to confirm).
        settings["mcpServers"] = {
            s.id: {"command": s.command[0], "args": list(s.command[1:]), "env": dict(s.env)}
            | ({"trust": True} if s.id == ANIMUS_MCP_ID else {})
            for s in profile.mcp_servers
        }
    return settings


def _quota_error(message: str) -> bool:
    """Gemini's words for a 429: "exhausted your daily quota", RESOURCE_EXHAUSTED, "Quota exceeded", 429."""
    return _looks_rate_limited(message) or any(word in message.lower() for word in _QUOTA_WORDS)

"""The adapter contract every agent CLI implements, and the judging rules they share."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from animus.agents import _events as ev
from animus.agents._decision import extract_decision
from animus.agents._events import AgentEvent
from animus.agents._outcome import Outcome, Tally, _looks_rate_limited
from animus.agents._profile import AgentProfile, Invocation, SessionPlan, _LaunchRequest
from animus.config.project import StateLayout
from animus.domain.errors import InvalidInput

_KILL_REASONS = frozenset({"timeout", "idle_timeout", "stopped"})
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


class ParseState:
    """Per-run parser memory: the session seen, message ids already counted, text of the current message."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.seen: set[str] = set()
        self.message_key: str | None = None
        self.message_parts: list[str] = []
        self.last_text: str | None = None
        self.flags: dict[str, Any] = {}

    def start_message(self, key: str | None) -> None:
        if key != self.message_key:
            self.message_key = key
            self.message_parts = []


def load_json_line(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, or None for anything else (blank, invalid, non-UTF-8, not an object)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if type(obj) is dict else None


def _as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (CLI output is untrusted)."""
    return value if type(value) is dict else {}


class Adapter:
    """One agent CLI: how to start it, how to read its stdout, and how to judge how it ended.

    A subclass states its facts as class keywords, e.g. ``class CodexAdapter(Adapter, tool="codex",
    binary="codex", resumable=True)``; a keyword left out keeps the parent's value.
    """

    tool: ClassVar[str] = ""
    binary: ClassVar[str] = ""
    resumable: ClassVar[bool] = False
    # The CLI accepts a session id chosen up front (so a replayed launch can name the same session).
    takes_session_id: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        tool: str | None = None,
        binary: str | None = None,
        resumable: bool | None = None,
        takes_session_id: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if tool is not None:
            cls.tool = tool
        if binary is not None:
            cls.binary = binary
        if resumable is not None:
            cls.resumable = resumable
        if takes_session_id is not None:
            cls.takes_session_id = takes_session_id

    # -- launching ------------------------------------------------------------------------------
    def build_invocation(
        self,
        profile: AgentProfile,
        prompt: str,
        *,
        cwd: str | os.PathLike[str],
        session: SessionPlan | None = None,
        state_dir: str | os.PathLike[str],
        environ: Mapping[str, str] | None = None,
    ) -> Invocation:
        """How to start this CLI; ``environ`` (default: the process env) is only read, for API keys and flags."""
        environ = os.environ if environ is None else environ
        request = _LaunchRequest(
            profile=profile, prompt=prompt, cwd=cwd, session=session, state_dir=state_dir, environ=environ
        )
        return self._invocation(request)

    def _invocation(self, request: _LaunchRequest) -> Invocation:
        """The adapter's own argv, env and files for one launch."""
        raise NotImplementedError

    # -- reading --------------------------------------------------------------------------------
    def new_state(self) -> ParseState:
        return ParseState()

    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        raise NotImplementedError

    def parse_lines(self, lines: Iterable[bytes], state: ParseState | None = None) -> list[AgentEvent]:
        state = state if state is not None else self.new_state()
        out: list[AgentEvent] = []
        for line in lines:
            out.extend(self.parse_line(line, state))
        return out

    # -- judging --------------------------------------------------------------------------------
    def classify(
        self,
        events: Iterable[AgentEvent],
        exit_code: int | None,
        signal: int | None = None,
        *,
        exit_reason: str | None = None,
    ) -> Outcome:
        tally = Tally()
        tally.extend(events)
        return self.judge(tally, exit_code, signal, exit_reason=exit_reason)

    def judge(
        self, tally: Tally, exit_code: int | None, signal: int | None = None, *, exit_reason: str | None = None
    ) -> Outcome:
        status, reason = self.verdict_of(tally, exit_code)
        resets_at = None
        if tally.rate_limited:
            detail = f": {reason[:300]}" if status == "failed" and reason else ""
            status, reason = "rate_limited", _rate_limit_reason(tally) + detail
            resets_at = tally.rate_limit.get("resets_at") if tally.rate_limit else None
        elif status == "failed" and _looks_rate_limited(reason):
            status = "rate_limited"
        elif exit_reason in _KILL_REASONS or (signal is not None and exit_reason != "exited"):
            if not (status == "ok" and tally.result is not None):
                status, reason = "killed", _kill_reason(exit_reason, signal)
        elif exit_reason == "supervisor_lost" and status == "ok" and tally.result is None:
            status, reason = "failed", "the agent process was lost before it finished (supervisor_lost)"
        elif status == "failed" and signal is not None:
            reason += f" (killed by signal {signal})"
        final = self.final_text(tally)
        input_tokens, output_tokens, cost = tally.tokens()
        return Outcome(
            status=status,
            reason=reason,
            session_id=tally.session_id,
            final_text=final,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            resets_at=resets_at,
            decision=extract_decision([*tally.texts, final]),
            exit_code=exit_code,
            signal=signal,
            model=tally.model,
            cached_input_tokens=tally.cached_input_tokens(),
        )

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        """The CLI's own success rule; the default is the exit code."""
        if exit_code == 0:
            return "ok", "exited 0"
        return "failed", _exit_text(exit_code)

    def final_text(self, tally: Tally) -> str | None:
        if tally.result is not None and tally.result.get("text"):
            text: str = tally.result["text"]
            return text
        return tally.texts[-1] if tally.texts else None


class _JsonLinesAdapter(Adapter):
    """An agent CLI whose stdout is one JSON object a line; any other non-blank line is kept as a raw event."""

    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        obj = load_json_line(line)
        if obj is None:
            return [ev._raw(line)] if line.strip() else []
        return self.parse_object(obj, line, state)

    def parse_object(self, obj: dict[str, Any], line: bytes, state: ParseState) -> list[AgentEvent]:
        """The events of one JSON line (``line`` is its raw bytes, for events the parser does not know)."""
        raise NotImplementedError


# -- helpers shared by the adapters ---------------------------------------------------------------


def _exit_text(exit_code: int | None) -> str:
    return "exit status unknown" if exit_code is None else f"exited with status {exit_code}"


def _kill_reason(exit_reason: str | None, signal: int | None) -> str:
    if exit_reason == "timeout":
        return "killed: hard timeout reached"
    if exit_reason == "idle_timeout":
        return "killed: no output for the idle timeout"
    if exit_reason == "stopped":
        return "killed: stopped on request"
    return f"killed by signal {signal}"


def _rate_limit_reason(tally: Tally) -> str:
    info = tally.rate_limit or {}
    when = info.get("resets_at")
    return f"rate limited ({info.get('status')})" + (f", resets at {when}" if when else "")


def _first_error(tally: Tally) -> str | None:
    for item in tally.errors:
        if item.get("fatal"):
            return str(item.get("message"))
    return None


def _is_secret_env_name(name: str) -> bool:
    return name.upper().endswith(_SECRET_SUFFIXES)


def _api_key_value(profile: AgentProfile, environ: Mapping[str, str]) -> str | None:
    """The key named by ``api_key_env`` (read now, from the profile env or the process env)."""
    name = profile.api_key_env
    if not name:
        return None
    value = profile.env.get(name) or environ.get(name)
    if not value:
        raise InvalidInput(
            f"api_key_env {name!r} names an environment variable that is not set",
            hint=f"export {name}=<your key> before running, or fix api_key_env in the agent profile",
        )
    return value


def _home_dir(state_dir: str | os.PathLike[str], tool: str) -> Path:
    """The CLI's isolated config home: ``<state_dir>/agent-homes/<tool>/``."""
    return StateLayout(Path(state_dir)).agent_home(tool)


def _safe_prompt(prompt: str) -> str:
    # A prompt starting with '-' would be parsed as a flag by every CLI; a leading space defuses it.
    return " " + prompt if prompt.startswith("-") else prompt


def _prompt_with_system(profile: AgentProfile, prompt: str) -> str:
    """For CLIs with no system-prompt flag the system prompt leads the prompt."""
    if profile.system_prompt:
        return _safe_prompt(profile.system_prompt.rstrip() + "\n\n" + prompt)
    return _safe_prompt(prompt)


def _content_file(directory: Path, stem: str, payload: Any) -> tuple[Path, str]:
    """A config file named after its content, so rebuilding an invocation never changes a live run's file."""
    import hashlib

    text = json.dumps(payload, indent=2, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return directory / f"{stem}-{digest}.json", text

"""Any program as an agent (tool `command`), and the built-in fake agent (tool `scripted`)."""

from __future__ import annotations

import sys
from pathlib import Path

from animus.agents import _events as ev
from animus.agents._adapter import Adapter, ParseState, _api_key_value
from animus.agents._claude import _ClaudeAdapter
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, _LaunchRequest
from animus.domain.errors import InvalidInput

_PROMPT_PLACEHOLDER = "{prompt}"
_TEXT_CAP = 64 * 1024


class _CommandAdapter(Adapter, tool="command"):
    """The configured argv, ``{prompt}`` replaced as a whole element; every output line is agent text."""

    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        if not profile.command:
            raise InvalidInput("tool 'command' needs `command:` (an argv list, '{prompt}' marks the prompt)")
        argv = [request.prompt if part == _PROMPT_PLACEHOLDER else part for part in profile.command]
        argv += list(profile.extra_args)
        env = dict(profile.env)
        env["ANIMUS_PROMPT"] = request.prompt
        key = _api_key_value(profile, request.environ)
        if key is not None and profile.api_key_env:
            env[profile.api_key_env] = key
        return Invocation(argv=argv, env_extra=env, stdin=None)

    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text.strip():
            return []
        return [ev._text(text[:_TEXT_CAP])]

    def final_text(self, tally: Tally) -> str | None:
        return "\n".join(tally.texts) if tally.texts else None


class _ScriptedAdapter(_ClaudeAdapter, tool="scripted", binary="claude"):
    """The fake agent CLI speaking Claude's stream-json, following the profile's script (or the demo)."""

    def _invocation(self, request: _LaunchRequest) -> Invocation:
        inv = super()._invocation(request)
        env = dict(inv.env_extra)
        if request.profile.script:
            env["ANIMUS_FAKE_SCRIPT"] = str(Path(request.profile.script).expanduser().absolute())
        argv = [sys.executable, "-m", "animus.agents.fake", "--as", "claude", *inv.argv[1:]]
        return Invocation(
            argv=argv, env_extra=env, stdin=None, files_to_write=inv.files_to_write, dirs_to_create=inv.dirs_to_create
        )

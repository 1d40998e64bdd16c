"""A provider plugin as an agent (tool ``plugin:<name>``): the run is a bridge process talking to the plugin.

The bridge (``python -m animus.plugins._bridge``) runs as the agent under procs' detached supervisor,
exactly like a CLI: it starts the plugin, calls ``agent/run`` (or ``agent/resume``) and prints each
normalized event the plugin streams as one JSON line, so the run directory, the log the daemon
follows, the exit record and re-attach after a restart are the same as for every other agent.
This module never imports the plugin host (agents and plugins sit on one layer row): it only builds
the bridge's argv and reads its output.
"""

from __future__ import annotations

import json
import sys

from animus.agents import _events as ev
from animus.agents._adapter import Adapter, ParseState, _api_key_value, load_json_line
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, _LaunchRequest
from animus.domain.errors import InvalidInput
from animus.domain.tools import plugin_of

#: the bridge's module; the plugins package owns it (docs/plugins.md "Provider plugins")
_BRIDGE_MODULE = "animus.plugins._bridge"


class _PluginAdapter(Adapter, resumable=True, takes_session_id=True):
    """One provider plugin; ``tool`` is ``plugin:<name>`` per instance."""

    def __init__(self, tool: str) -> None:
        name = plugin_of(tool)
        if name is None:
            raise InvalidInput(f"{tool!r} does not name a provider plugin (plugin:<name>)")
        self.tool = tool  # type: ignore[misc]  # the class default is "", each instance names its plugin
        self.plugin = name

    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        env = dict(profile.env)
        key = _api_key_value(profile, request.environ)
        if key is not None and profile.api_key_env:
            env[profile.api_key_env] = key
        session = request.session
        job = {
            "prompt": request.prompt,
            "system_prompt": profile.system_prompt,
            "model": profile.model,
            "cwd": str(request.cwd),
            "session_id": session.id if session else None,
            "resume": bool(session and session.resume),
            "read_only": profile.read_only,
            "timeout_secs": profile.timeout_secs,
            "extra_args": list(profile.extra_args),
            # the plugin's environment is scrubbed; these, the agent's own `env:`, reach it
            "env_names": sorted(env),
        }
        argv = [sys.executable, "-m", _BRIDGE_MODULE, "--plugin", self.plugin, "--state-dir", str(request.state_dir)]
        return Invocation(argv=argv, env_extra=env, stdin=json.dumps(job).encode())

    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        obj = load_json_line(line)
        if obj is None or obj.get("kind") not in ev.EVENT_KINDS:
            return [ev._raw(line)] if line.strip() else []
        return [AgentEvent.from_dict(obj)]

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        if tally.result is not None:
            ok, reason = bool(tally.result.get("ok")), str(tally.result.get("reason") or "")
            if ok and exit_code == 0:
                return "ok", reason or "completed"
            if not ok:
                return "failed", reason or "the plugin reported a failure"
        for error in tally.errors:
            if error.get("fatal"):
                return "failed", str(error.get("message"))
        return super().verdict_of(tally, exit_code)

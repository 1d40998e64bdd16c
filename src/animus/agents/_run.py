"""Start an agent CLI as a detached supervised run, and read a run back as normalized events + outcome."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from animus import procs
from animus.agents._adapter import Adapter, ParseState
from animus.agents._cli_cache import cli_cache_dir, find_cli, install_hint
from animus.agents._events import AgentEvent
from animus.agents._outcome import Outcome, Tally
from animus.agents._profile import AgentProfile, Invocation, SessionPlan
from animus.agents._registry import get_adapter
from animus.domain.errors import AgentError, InvalidInput, Unavailable

_NEW_SESSION_TOOLS = ("claude", "scripted")


def new_run_id() -> str:
    """``run-<UTC stamp>-<6 hex>``: sortable by start time, unique without coordination."""
    return f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def start_agent_run(
    profile: AgentProfile,
    prompt: str,
    *,
    cwd: str | os.PathLike[str],
    runs_dir: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    run_id: str | None = None,
    session: SessionPlan | None = None,
    labels: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    grace_secs: float = 5.0,
) -> procs.RunHandle:
    """Launch ``profile``'s CLI on ``prompt`` in ``cwd``, detached; idempotent on ``run_id``."""
    runs = Path(runs_dir)
    run_id = run_id or new_run_id()
    if (runs / run_id).exists():
        # procs never spawns a run id twice; rebuilding the invocation would only mint a new session id.
        return procs.attach(run_id, runs)
    environ = os.environ if environ is None else environ
    adapter = get_adapter(profile.tool)
    if session is not None and session.resume and not adapter.resumable:
        raise InvalidInput(
            f"tool {profile.tool} cannot resume a session",
            hint="start a new run without a session to resume; claude, codex, gemini, opencode and cursor can resume",
        )
    if session is None and profile.tool in _NEW_SESSION_TOOLS:
        session = SessionPlan.new()
    inv = adapter.build_invocation(profile, prompt, cwd=cwd, session=session, state_dir=state_dir, environ=environ)
    env = procs.build_env(environ, inv.env_extra, inherit=profile.env_inherit)
    inv = _locate_binary(adapter, profile, inv, env.get("PATH"), environ)
    for directory in inv.dirs_to_create:
        procs.private_dir(directory)
    for path, text in inv.files_to_write.items():
        _write_private(path, text)
    run_labels = {**dict(labels or {}), "tool": profile.tool}
    if session is not None and session.id:
        run_labels["session_id"] = session.id
        run_labels["session_resume"] = "1" if session.resume else "0"
    spec = procs.RunSpec(
        run_id=run_id,
        argv=inv.argv,
        cwd=str(cwd),
        env=env,
        timeout_secs=profile.timeout_secs,
        idle_timeout_secs=profile.idle_timeout_secs,
        grace_secs=grace_secs,
        stdin=inv.stdin,
        labels=run_labels,
    )
    return procs.launch(spec, runs)


def _locate_binary(
    adapter: Adapter, profile: AgentProfile, inv: Invocation, path: str | None, environ: Mapping[str, str]
) -> Invocation:
    """``inv`` with its program found: the agent's ``binary:``, else on the agent's PATH, else in the install cache."""
    program = inv.argv[0]
    if not adapter.binary or program != adapter.binary:  # a command or scripted agent names its own program
        if shutil.which(program, path=path) is None:
            raise Unavailable(
                f"agent CLI {program!r} (tool {profile.tool}) not found on PATH",
                hint="install it, put it on PATH, or run `animus doctor`",
            )
        return inv
    found = find_cli(profile.tool, program, configured=profile.binary, path=path, environ=environ)
    if found is None:
        where = f"binary {profile.binary!r}" if profile.binary else f"{program!r} on PATH or in {cli_cache_dir(environ)}"
        raise Unavailable(
            f"agent CLI for tool {profile.tool} not found: no {where}",
            hint=f"{install_hint(profile.tool)}, or run `animus doctor`",
        )
    if found.path == program:
        return inv
    return dataclasses.replace(inv, argv=[found.path, *inv.argv[1:]])


def _write_private(path: Path, text: str) -> None:
    """Write a config file (it may hold MCP env values) readable by the owner only, unless it is unchanged."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    procs.private_dir(path.parent)
    procs.write_atomic(path, text, mode=0o600)


@dataclass
class ReadCursor:
    """Where a reader of a run stands: byte offset in stdout.log, parser state and running totals."""

    offset: int = 0
    state: ParseState = field(default_factory=ParseState)
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class RunView:
    """A run as read now: status, the new events since the cursor, and the outcome once it has ended."""

    run_id: str
    tool: str
    status: str
    events: list[AgentEvent]
    cursor: ReadCursor
    outcome: Outcome | None
    exit: procs.ExitRecord | None
    labels: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tool": self.tool,
            "status": self.status,
            "labels": self.labels,
            "exit": self.exit.to_dict() if self.exit is not None else None,
            "outcome": self.outcome.to_dict() if self.outcome is not None else None,
        }


class RunReader:
    """Reads one run's stdout through its adapter, from any process, resuming from a cursor."""

    def __init__(self, run_id: str, runs_dir: str | os.PathLike[str], cursor: ReadCursor | None = None) -> None:
        self.handle = procs.attach(run_id, Path(runs_dir))
        self.labels = self.handle.labels
        tool = self.labels.get("tool")
        if not tool:
            raise AgentError(f"run {run_id} has no `tool` label: it was not started by animus.agents")
        self.tool = tool
        self.adapter: Adapter = get_adapter(tool)
        self.cursor = cursor or ReadCursor(state=self.adapter.new_state())

    def _lines(self, *, wait: bool, poll: float = 0.05) -> Iterator[AgentEvent]:
        cursor = self.cursor
        parse = self.adapter.parse_line
        for line, offset in self.handle.follow(cursor.offset, wait=wait, poll=poll):
            events = parse(line, cursor.state)
            cursor.offset = offset
            for event in events:
                cursor.tally.add(event)
                yield event

    def poll(self) -> list[AgentEvent]:
        """The events written since the last read (never waits)."""
        return list(self._lines(wait=False))

    def drain(self) -> None:
        """Read everything written so far without keeping the events (the cursor's tally keeps the totals)."""
        for _event in self._lines(wait=False):
            pass

    def follow(self, poll: float = 0.05) -> Iterator[AgentEvent]:
        """Every event from the cursor on, waiting for new output until the run ends."""
        yield from self._lines(wait=True, poll=poll)

    def outcome(self) -> Outcome | None:
        """The judged outcome once the run has ended (None while it runs); call after reading to the end."""
        state = self.handle.state()
        if state.status == "running" or state.exit is None:
            return None
        return self.judge(state.exit)

    def judge(self, exit: procs.ExitRecord) -> Outcome:
        outcome = self.adapter.judge(self.cursor.tally, exit.exit_code, exit.signal, exit_reason=exit.reason)
        if exit.reason == "spawn_failed":
            outcome = dataclasses.replace(outcome, status="failed", reason=f"could not start: {exit.error}")
        if outcome.session_id is None and self.labels.get("session_id"):
            outcome = dataclasses.replace(outcome, session_id=self.labels["session_id"])
        return outcome

    def view(self, events: list[AgentEvent]) -> RunView:
        state = self.handle.state()
        outcome = None
        if state.status != "running" and state.exit is not None:
            events = events + self.poll()  # output written between the read and the state check
            outcome = self.judge(state.exit)
        return RunView(
            self.handle.run_id, self.tool, state.status, events, self.cursor, outcome, state.exit, self.labels
        )


def read_run(run_id: str, runs_dir: str | os.PathLike[str], cursor: ReadCursor | None = None) -> RunView:
    """The run's new events since ``cursor`` (all, without one) and its outcome if it has ended."""
    reader = RunReader(run_id, runs_dir, cursor)
    return reader.view(reader.poll())

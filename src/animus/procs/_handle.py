"""A handle on one run directory from any process: judge its state, follow its output, wait for it, stop it."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from animus.domain.errors import NotFound, ProcError
from animus.procs import _rundir as rd
from animus.procs._proctable import _terminate_run, is_alive
from animus.procs._records import ExitRecord, PidInfo, RunState, RunStatus
from animus.procs._spec import _check_run_id

_log = logging.getLogger("animus.procs")

_READ_CHUNK = 1 << 20
#: how often follow() re-judges liveness (a lost run is noticed this late at worst)
_JUDGE_EVERY_SECS = 1.0
#: extra time stop() gives a live supervisor beyond the grace before it kills the run itself
_STOP_MARGIN_SECS = 5.0


class RunHandle:
    """One run directory, ``runs_dir/<run_id>/``; every method re-reads the files, so any process may hold one."""

    def __init__(self, run_id: str, runs_dir: Path) -> None:
        self.run_id = _check_run_id(run_id)
        self.dir = Path(runs_dir) / run_id
        self._real_dir = os.path.realpath(self.dir)

    def __repr__(self) -> str:
        return f"RunHandle(run_id={self.run_id!r}, dir={str(self.dir)!r})"

    def _path(self, name: str) -> Path:
        return self.dir / name

    def spec_record(self) -> dict[str, Any]:
        """The stored spec.json (argv redacted, env names only); empty while the launcher is writing it."""
        return rd._read_json(self._path(rd._SPEC)) or {}

    @property
    def labels(self) -> dict[str, str]:
        labels = self.spec_record().get("labels")
        return dict(labels) if isinstance(labels, dict) else {}

    def exit_record(self) -> ExitRecord | None:
        data = rd._read_json(self._path(rd._EXIT))
        return None if data is None else ExitRecord.from_dict(data)

    def pid_info(self) -> PidInfo | None:
        data = rd._read_json(self._path(rd._PID))
        return None if data is None else PidInfo.from_dict(data)

    def created_at(self) -> float:
        created = rd._parse_iso(str(self.spec_record().get("created_at", "")))
        if created is not None:
            return created
        try:
            return self.dir.stat().st_mtime
        except OSError:
            return time.time()

    def state(self) -> RunState:
        """Judge the run now; turns a run nobody is left to finish into a terminal one (exit.json)."""
        exit = self.exit_record()
        pid = self.pid_info()
        if exit is not None:
            return self._terminal(exit, pid)
        if pid is None:
            if self._may_still_start():
                return RunState(self.run_id, "running", None, None, supervisor_alive=True, agent_alive=False)
            return self._terminal(
                self._record_end("spawn_failed", None, "the supervisor never started the agent"), None
            )
        supervisor_alive = is_alive(pid.supervisor_pid, pid.supervisor_start_time)
        agent_alive = is_alive(pid.agent_pid, pid.agent_start_time)
        if supervisor_alive or agent_alive:
            return RunState(self.run_id, "running", None, pid, supervisor_alive, agent_alive)
        # the supervisor writes exit.json before it exits: look again now that it is known to be gone
        exit = self.exit_record()
        if exit is None:
            exit = self._record_end("supervisor_lost", pid, "the supervisor died before the agent ended")
        return self._terminal(exit, pid)

    def _may_still_start(self) -> bool:
        """Whether a run without pid.json may yet get one (its launcher or supervisor is still at work)."""
        if (self.dir / rd._PID).exists():
            return True
        age = time.time() - self.created_at()
        spec = self.spec_record()
        launcher, started = spec.get("launcher_pid"), spec.get("launcher_start_time")
        if not spec:
            # the launcher writes spec.json right after mkdir: without it, the launcher died in between
            return age < rd._ORPHANED_START_SECS
        if isinstance(launcher, int) and isinstance(started, int) and not is_alive(launcher, started):
            return age < rd._ORPHANED_START_SECS
        return age < rd._START_DEADLINE_SECS

    def _terminal(self, exit: ExitRecord, pid: PidInfo | None) -> RunState:
        status: RunStatus = "lost" if exit.reason == "supervisor_lost" else "finished"
        return RunState(self.run_id, status, exit, pid, supervisor_alive=False, agent_alive=False)

    def _record_end(self, reason: str, pid: PidInfo | None, error: str) -> ExitRecord:
        """Write exit.json unless someone else did first; the record that won."""
        started = rd._parse_iso(pid.started_at) if pid is not None else None
        duration = time.time() - started if started is not None else None
        record = rd._exit_record(
            reason, exit_code=None, signal=None, duration_secs=duration, run_dir=str(self.dir), error=error
        )
        if rd._write_json_first(self._path(rd._EXIT), record):
            _log.warning("run ended without its supervisor run_id=%s reason=%s", self.run_id, reason)
        return self.exit_record() or ExitRecord.from_dict(record)

    def follow(self, offset: int = 0, *, wait: bool = True, poll: float = 0.05) -> Iterator[tuple[bytes, int]]:
        """Yield ``(line, offset after it)`` for each complete stdout line from byte ``offset`` on.

        Lines keep their b"\\n" (and any b"\\r"). A last line without a newline is yielded only once
        the run is over. With ``wait`` the iterator follows a running run until it ends and all of
        its output has been read; without it, it stops at the current end of the log.
        """
        if offset < 0:
            raise ProcError(f"run {self.run_id}: offset must be >= 0, got {offset}")
        path = self._path(rd._STDOUT)
        while not path.exists():
            if self._is_over(full=True) or not wait:
                return
            time.sleep(poll)
        pending = bytearray()
        pending_at = offset  # file offset of pending[0]
        scanned = 0  # pending[:scanned] is known to hold no newline
        over = False
        next_judge = time.monotonic() + _JUDGE_EVERY_SECS
        with open(path, "rb") as fh:
            fh.seek(offset)
            while True:
                chunk = fh.read(_READ_CHUNK)
                if chunk:
                    pending += chunk
                    start = 0
                    while (newline := pending.find(b"\n", scanned)) >= 0:
                        yield bytes(pending[start : newline + 1]), pending_at + newline + 1
                        start = scanned = newline + 1
                    if start:
                        del pending[:start]
                        pending_at += start
                    scanned = len(pending)
                    continue
                if over:
                    if pending:
                        yield bytes(pending), pending_at + len(pending)
                    return
                now = time.monotonic()
                full = now >= next_judge or not wait
                if full:
                    next_judge = now + _JUDGE_EVERY_SECS
                # once it is over, one more read to the end sees everything the run wrote
                over = self._is_over(full=full)
                if not over and not wait:
                    return
                if not over:
                    time.sleep(poll)

    def _is_over(self, *, full: bool) -> bool:
        if self._path(rd._EXIT).exists():
            return True
        if not full:
            return False
        state = self.state()
        if state.status == "running":
            self._enforce_timeouts(state)
            return self._path(rd._EXIT).exists()
        return True

    def read_stderr_tail(self, n_bytes: int) -> bytes:
        """The last ``n_bytes`` of stderr.log (empty when there is none)."""
        try:
            with open(self._path(rd._STDERR), "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - max(n_bytes, 0)))
                return fh.read()
        except OSError:
            return b""

    def wait(self, timeout: float | None = None, *, poll: float = 0.05) -> ExitRecord:
        """Block until the run is over; its exit record. ProcError when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = min(0.005, poll)  # short runs end quickly: look often at first, then back off to ``poll``
        while True:
            state = self.state()
            if state.exit is not None:
                return state.exit
            self._enforce_timeouts(state)
            if deadline is not None and time.monotonic() >= deadline:
                raise ProcError(
                    f"run {self.run_id} still running after {timeout}s",
                    details={"run_id": self.run_id, "timeout_secs": timeout},
                )
            time.sleep(pause)
            pause = min(pause * 1.5, poll)

    def stop(self, grace: float | None = None) -> ExitRecord | None:
        """Stop the run and its whole tree (SIGTERM, ``grace`` seconds, SIGKILL); its exit record.

        Asks the supervisor through a ``stop`` file; kills the run itself when the supervisor is
        gone or does not answer in time. None only if the run could not be judged over.
        """
        state = self.state()
        if state.status != "running":
            return state.exit
        if grace is None:
            stored = self.spec_record().get("grace_secs")
            grace = float(stored) if isinstance(stored, (int, float)) else 5.0
        rd._write_json_atomic(self._path(rd._STOP), {"grace_secs": grace, "requested_at": rd._now_iso()})
        _log.info("stop requested run_id=%s grace=%s", self.run_id, grace)
        deadline = time.monotonic() + grace + _STOP_MARGIN_SECS
        while time.monotonic() < deadline:
            state = self.state()
            if state.exit is not None:
                return state.exit
            if not state.supervisor_alive:
                break
            time.sleep(0.05)
        return self._end_without_supervisor("stopped", grace)

    def _enforce_timeouts(self, state: RunState) -> None:
        """Apply the run's timeouts when its supervisor died but the agent lives on."""
        if state.status != "running" or state.supervisor_alive or state.pid is None:
            return
        spec = self.spec_record()
        started = rd._parse_iso(state.pid.started_at)
        if started is None:
            return
        now = time.time()
        timeout, idle = spec.get("timeout_secs"), spec.get("idle_timeout_secs")
        last_output = max([started] + [_mtime(self._path(name)) for name in (rd._STDOUT, rd._STDERR)])
        grace = spec.get("grace_secs")
        grace = float(grace) if isinstance(grace, (int, float)) else 5.0
        if isinstance(timeout, (int, float)) and now - started >= timeout:
            self._end_without_supervisor("timeout", grace)
        elif isinstance(idle, (int, float)) and now - last_output >= idle:
            self._end_without_supervisor("idle_timeout", grace)

    def _end_without_supervisor(self, reason: str, grace: float) -> ExitRecord | None:
        """Kill the run's tree from this process (the supervisor is gone or hung) and record ``reason``."""
        pid = self.pid_info()
        if pid is not None and is_alive(pid.supervisor_pid, pid.supervisor_start_time):
            try:
                os.kill(pid.supervisor_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        agent_alive = pid is not None and is_alive(pid.agent_pid, pid.agent_start_time)
        pgid = pid.agent_pgid if pid is not None and agent_alive else None

        def leader_gone() -> bool:
            return pid is None or not is_alive(pid.agent_pid, pid.agent_start_time)

        hit = _terminate_run(self._real_dir, pgid, grace, leader_gone)
        _log.warning("run ended by %s without its supervisor run_id=%s pids=%s", reason, self.run_id, hit)
        if self.exit_record() is None:
            self._record_end(reason, pid, f"{reason} enforced without the supervisor")
        return self.exit_record()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def attach(run_id: str, runs_dir: Path) -> RunHandle:
    """A handle on an existing run, from any process; NotFound when there is no such run directory."""
    handle = RunHandle(run_id, runs_dir)
    if not handle.dir.is_dir():
        raise NotFound(f"no run {run_id!r} in {runs_dir}", hint="check the run id; every run has a directory there")
    return handle


def stop(run_id: str, runs_dir: Path, grace: float | None = None) -> ExitRecord | None:
    """Stop a run from any process (see ``RunHandle.stop``)."""
    return attach(run_id, runs_dir).stop(grace)

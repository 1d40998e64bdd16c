"""Starting a detached run: claim its directory, record the spec, hand it to a supervisor in its own session."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import animus
from animus.domain.errors import SpawnError
from animus.procs import _rundir as rd
from animus.procs._atomic import private_dir, private_file
from animus.procs._env import redact
from animus.procs._faults import fault_point
from animus.procs._handle import RunHandle
from animus.procs._proctable import is_alive, start_time
from animus.procs._spec import RunSpec
from animus.procs._supervisor import _hand_over

_log = logging.getLogger("animus.procs")

#: launch() gives up on a supervisor that has not started the agent by then
_LAUNCH_DEADLINE_SECS = 30.0


def launch(spec: RunSpec, runs_dir: Path) -> RunHandle:
    """Start ``spec`` detached (it survives this process) and return its handle once the agent runs.

    Idempotent on ``spec.run_id``: when its directory exists the run is never started again, and
    the handle of the existing run is returned. SpawnError (with exit.json saying why) when the
    agent cannot be started.
    """
    runs_dir = Path(runs_dir)
    private_dir(runs_dir)
    handle = RunHandle(spec.run_id, runs_dir)
    if not _claim(handle, spec):
        _log.info("run exists, not launching again run_id=%s", spec.run_id)
        _await_start(handle, None)
        return handle
    supervisor_pid = _start_supervisor(spec, handle.dir)
    _await_start(handle, supervisor_pid)
    pid = handle.pid_info()
    _log.info(
        "run launched run_id=%s supervisor_pid=%s pid=%s",
        spec.run_id,
        supervisor_pid,
        pid.agent_pid if pid else None,
    )
    return handle


def _claim(handle: RunHandle, spec: RunSpec) -> bool:
    """Create the run directory with its spec.json in one step; False when the run id is taken.

    The directory is staged under a dot name (never a run id) and renamed into place, so a run
    directory never exists without its spec: a launcher killed at any instant leaves either no run
    or a complete claim. Of two launchers of one run id exactly one rename succeeds (the loser's
    target is a non-empty directory).
    """
    if handle.dir.exists():
        return False
    staged = handle.dir.parent / f".claim-{os.getpid()}-{secrets.token_hex(4)}"
    staged.mkdir(mode=0o700)
    try:
        rd._write_json_atomic(staged / rd._SPEC, _spec_record(spec))
        fault_point("animus.procs.claim", "before")
        os.rename(staged, handle.dir)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        if handle.dir.exists():
            return False
        raise SpawnError(f"cannot create the run directory {handle.dir}: {exc}") from exc
    return True


def _spec_record(spec: RunSpec) -> dict[str, Any]:
    return {
        "run_id": spec.run_id,
        "argv": [redact(arg, spec.env) for arg in spec.argv],
        "cwd": spec.cwd,
        "env_names": sorted(spec.env),
        "timeout_secs": spec.timeout_secs,
        "idle_timeout_secs": spec.idle_timeout_secs,
        "grace_secs": spec.grace_secs,
        "stdin_bytes": None if spec.stdin is None else len(spec.stdin),
        "labels": dict(spec.labels),
        "created_at": rd._now_iso(),
        "launcher_pid": os.getpid(),
        "launcher_start_time": start_time(os.getpid()),
    }


# The same as `python -m animus.procs._supervisor <rundir>`, minus runpy's imports (~10-20 ms per
# launch). -S: the supervisor needs only the standard library and animus (on its PYTHONPATH), not site.
_SUPERVISOR_BOOT = "import sys; from animus.procs._supervisor import _main; sys.exit(_main(sys.argv))"


def _supervisor_env() -> dict[str, str]:
    """Just enough for Python to find animus: the supervisor must not see the agent's secrets in its environ."""
    source_root = str(Path(animus.__file__).resolve().parent.parent)
    paths = [source_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": os.pathsep.join(paths)}
    for name in ("LANG", "LC_ALL", "TZ"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _start_supervisor(spec: RunSpec, run_dir: Path) -> int:
    """Start the supervisor in its own session and hand it the run; the supervisor's pid."""
    job = {
        "run_id": spec.run_id,
        "argv": list(spec.argv),
        "cwd": spec.cwd,
        "env": dict(spec.env),
        "timeout_secs": spec.timeout_secs,
        "idle_timeout_secs": spec.idle_timeout_secs,
        "grace_secs": spec.grace_secs,
    }
    argv = [sys.executable, "-S", "-c", _SUPERVISOR_BOOT, str(run_dir.resolve())]
    try:
        # the log from the first instant, so a supervisor that cannot even import says why
        with open(private_file(run_dir / rd._SUPERVISOR_LOG), "ab") as log_file:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                cwd="/",
                env=_supervisor_env(),
                start_new_session=True,
                close_fds=True,
            )
        out, _ = proc.communicate(_hand_over(job, spec.stdin), timeout=_LAUNCH_DEADLINE_SECS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _fail(run_dir, f"cannot start the supervisor: {exc}")
    text = out.decode("ascii", "replace").strip()
    if proc.returncode != 0 or not text.isdigit():
        exit = rd._read_json(run_dir / rd._EXIT)
        _fail(run_dir, (exit or {}).get("error") or f"the supervisor exited with code {proc.returncode}")
    return int(text)


def _await_start(handle: RunHandle, supervisor_pid: int | None) -> None:
    """Return once pid.json exists; SpawnError when the run ended without starting its agent."""
    supervisor_started = start_time(supervisor_pid) if supervisor_pid else None
    deadline = time.monotonic() + _LAUNCH_DEADLINE_SECS
    pause = 0.001
    while True:
        if (handle.dir / rd._PID).exists():
            return
        exit = handle.exit_record()
        if exit is not None:
            if supervisor_pid is None:
                return  # another launcher's run that failed: its handle reports it
            raise SpawnError(
                f"run {handle.run_id}: {exit.error or 'the agent could not be started'}",
                details={"run_id": handle.run_id, "run_dir": str(handle.dir)},
            )
        if supervisor_pid is None and handle.state().status != "running":
            return  # another launcher's run that will never start: its handle reports it
        if supervisor_pid is not None and not is_alive(supervisor_pid, supervisor_started):
            if not (handle.dir / rd._PID).exists() and handle.exit_record() is None:
                _fail(handle.dir, "the supervisor died before starting the agent; see supervisor.log")
            continue
        if time.monotonic() >= deadline:
            if supervisor_pid is None:
                return
            if is_alive(supervisor_pid, supervisor_started):
                os.kill(supervisor_pid, signal.SIGKILL)
            _fail(handle.dir, f"the agent did not start within {_LAUNCH_DEADLINE_SECS:.0f}s; see supervisor.log")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)


def _fail(run_dir: Path, error: str) -> NoReturn:
    """Record spawn_failed (unless the run already ended) and raise SpawnError."""
    rd._write_json_first(
        run_dir / rd._EXIT,
        rd._exit_record(
            "spawn_failed", exit_code=None, signal=None, duration_secs=None, run_dir=str(run_dir), error=error
        ),
    )
    exit = rd._read_json(run_dir / rd._EXIT) or {}
    _log.warning("launch failed run_id=%s error=%s", run_dir.name, exit.get("error", error))
    raise SpawnError(f"run {run_dir.name}: {exit.get('error', error)}", details={"run_dir": str(run_dir)})

"""Start and stop the daemon from another process: detach a ``--foreground`` child, signal it, wait."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from animus import procs
from animus.config import DaemonInfo
from animus.config.project import StateLayout
from animus.daemon._info import log_path, read_info
from animus.domain.errors import Conflict, Unavailable

_READY_TIMEOUT_SECS = 60.0


def running_conflict(info: DaemonInfo) -> Conflict:
    return Conflict(
        f"the animus daemon is already running for this project (pid {info.pid}, executor {info.executor_id})",
        details={"pid": info.pid, "executor_id": info.executor_id},
        hint="stop it first: `animus daemon stop`",
    )


def log_tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def start_detached(
    root: Path, state_dir: Path, *, pool_size: int | None = None, http_port: int | None = None, timeout: float = _READY_TIMEOUT_SECS
) -> DaemonInfo:
    """Start ``animus daemon start --foreground`` in a new session (stdin /dev/null, output to the log) and wait until ready."""
    existing = read_info(state_dir)
    if existing is not None:
        raise running_conflict(existing)
    log = log_path(state_dir)
    layout = StateLayout(state_dir)
    procs.private_dir(log.parent, top=layout.private_top)
    procs.private_file(log)
    offset = log.stat().st_size if log.exists() else 0
    argv = [sys.executable, "-m", "animus.cli.main", "daemon", "start", "--foreground", "--project-root", str(root)]
    if pool_size:
        argv += ["--pool-size", str(pool_size)]
    if http_port is not None:
        argv += ["--http-port", str(http_port)]
    child = procs.spawn_detached(argv, log_path=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            tail = log_tail(log, offset)
            if code == 4:
                raise Conflict(f"the daemon did not start: another executor holds this project\n{tail}",
                               hint="see `animus daemon status`; stop it with `animus daemon stop`")
            raise Unavailable(f"the daemon exited with code {code} before it was ready; log tail:\n{tail}",
                              hint=f"full log: {log}")
        info = read_info(state_dir)
        if info is not None and info.pid == child.pid:
            return info
        time.sleep(0.05)
    raise Unavailable(f"the daemon (pid {child.pid}) was not ready after {timeout:.0f}s; log tail:\n{log_tail(log, offset)}",
                      hint=f"it may still be starting: `animus daemon status`; log: {log}")


def stop_daemon(state_dir: Path, *, drain: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """Ask the daemon to stop (SIGTERM) or drain (SIGUSR1) and wait; past the timeout escalate (SIGTERM, then SIGKILL)."""
    info = read_info(state_dir)
    if info is None:
        return {"running": False, "stopped": False, "pid": None}
    started = time.monotonic()
    procs.signal_process(info.pid, signal.SIGUSR1 if drain else signal.SIGTERM)
    steps = []
    if _wait_gone(info, timeout):
        return {"running": True, "stopped": True, "pid": info.pid, "drained": drain, "forced": False,
                "waited_secs": round(time.monotonic() - started, 2)}
    if drain:
        steps.append("drain timed out; sent SIGTERM")
        procs.signal_process(info.pid, signal.SIGTERM)
        if _wait_gone(info, 30.0):
            return {"running": True, "stopped": True, "pid": info.pid, "drained": False, "forced": False, "notes": steps,
                    "waited_secs": round(time.monotonic() - started, 2)}
    steps.append("did not exit; sent SIGKILL (runs resume at the next start)")
    try:
        procs.signal_process(info.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait_gone(info, 10.0)
    return {"running": True, "stopped": True, "pid": info.pid, "drained": False, "forced": True, "notes": steps,
            "waited_secs": round(time.monotonic() - started, 2)}


def _wait_gone(info: DaemonInfo, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.is_alive(info.pid, info.proc_start):
            return True
        time.sleep(0.05)
    return not procs.is_alive(info.pid, info.proc_start)

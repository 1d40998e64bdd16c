"""``daemon.json``, written: the running daemon's identity (pid, start, executor id, pool), atomically when ready.

The record type and its one reader live in ``animus.config`` (next to the state layout), because the
API, below the daemon, reads it too; this module adds the write, the removal and the liveness check.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from animus import procs
from animus.config import DaemonInfo, read_daemon_info
from animus.config.project import StateLayout


def info_path(state_dir: Path) -> Path:
    return StateLayout(state_dir).daemon_info


def log_path(state_dir: Path) -> Path:
    return StateLayout(state_dir).daemon_log


def _write_info(state_dir: Path, info: DaemonInfo) -> None:
    procs.write_atomic(info_path(state_dir), json.dumps(asdict(info), indent=2) + "\n", mode=0o600)


def read_info(state_dir: Path, *, live_only: bool = True) -> DaemonInfo | None:
    """The daemon's info, or None when there is none (or, with ``live_only``, its process is gone)."""
    info = read_daemon_info(state_dir)
    if info is None or (live_only and not procs.is_alive(info.pid, info.proc_start)):
        return None
    return info


def _remove_info(state_dir: Path, pid: int) -> None:
    """Remove ``daemon.json`` if it is this pid's (a successor's file is left alone)."""
    current = read_info(state_dir, live_only=False)
    if current is not None and current.pid == pid:
        info_path(state_dir).unlink(missing_ok=True)

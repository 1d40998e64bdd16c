"""``daemon.json``: the running daemon's identity (pid, start, executor id, pool), written atomically when ready."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from animus import procs

INFO_FILE = "daemon.json"
LOG_FILE = "daemon.log"


@dataclass(frozen=True)
class DaemonInfo:
    """What a ready daemon says about itself; ``proc_start`` guards against a reused pid."""

    pid: int
    proc_start: int
    started_at: str
    started_epoch: float
    executor_id: str
    pool_size: int
    project_root: str
    http_port: int | None = None

    @property
    def uptime_secs(self) -> float:
        return max(0.0, time.time() - self.started_epoch)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uptime_secs": round(self.uptime_secs, 1)}


def info_path(state_dir: Path) -> Path:
    return state_dir / INFO_FILE


def log_path(state_dir: Path) -> Path:
    return state_dir / "logs" / LOG_FILE


def write_info(state_dir: Path, info: DaemonInfo) -> None:
    path = info_path(state_dir)
    procs.write_atomic(path, json.dumps(asdict(info), indent=2) + "\n")


def read_info(state_dir: Path, *, live_only: bool = True) -> DaemonInfo | None:
    """The daemon's info, or None when there is none (or, with ``live_only``, its process is gone)."""
    try:
        data = json.loads(info_path(state_dir).read_text(encoding="utf-8"))
        info = DaemonInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    if live_only and not procs.is_alive(info.pid, info.proc_start):
        return None
    return info


def remove_info(state_dir: Path, pid: int) -> None:
    """Remove ``daemon.json`` if it is this pid's (a successor's file is left alone)."""
    current = read_info(state_dir, live_only=False)
    if current is not None and current.pid == pid:
        info_path(state_dir).unlink(missing_ok=True)

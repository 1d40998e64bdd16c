"""``daemon.json``, read: the running daemon's identity as one typed record, for every layer that asks."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from animus.config.project import StateLayout


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
    #: while the configuration on disk is invalid: its first problem (``file:line:col: message``); nothing new is dispatched
    config_error: str | None = None

    @property
    def uptime_secs(self) -> float:
        return max(0.0, time.time() - self.started_epoch)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uptime_secs": round(self.uptime_secs, 1)}


def read_daemon_info(state_dir: Path) -> DaemonInfo | None:
    """The record in ``daemon.json``, or None when there is none or it is not one a daemon wrote.

    Whether that daemon still runs is the caller's question: ``procs.is_alive(info.pid, info.proc_start)``
    (config cannot import procs), or ``animus.daemon.read_info``, which asks it.
    """
    try:
        data = json.loads(StateLayout(state_dir).daemon_info.read_text(encoding="utf-8"))
        return DaemonInfo(**data)
    except (OSError, ValueError, TypeError):
        return None

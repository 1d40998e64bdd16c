"""The last known state of each plugin, as a file beside its log, for `animus status`.

Every process that hosts plugins (the daemon's threads, a CLI command, a provider's bridge) writes
``logs/plugins/<name>.health.json`` when it starts a plugin, sees it crash, or stops it. `animus
status` reads these files instead of starting anything, so a status call never spawns a plugin and
still shows a plugin that keeps crashing under the daemon.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from animus.config.project import StateLayout
from animus.procs import write_atomic

HealthState = Literal["running", "crashed", "failed_to_start", "stopped"]


def _health_path(state_dir: Path, name: str) -> Path:
    return StateLayout(state_dir).plugin_log(name).with_suffix(".health.json")


def record_health(state_dir: Path, name: str, state: HealthState, *, restarts: int,
                  error: str | None = None, pid: int | None = None) -> None:
    """Write what this host last saw of plugin ``name``; never fails the caller (status is advisory)."""
    row = {"name": name, "state": state, "restarts": restarts, "last_error": error, "pid": pid,
           "host_pid": os.getpid(), "at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        path = _health_path(state_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(row) + "\n")
    except OSError:  # a full disk must not stop a plugin call; the log has the story
        pass


def read_health(state_dir: Path) -> list[dict[str, Any]]:
    """Every plugin's last recorded state, by name; an unreadable file is skipped."""
    folder = StateLayout(state_dir).plugin_log("x").parent
    rows = []
    for path in sorted(folder.glob("*.health.json")) if folder.is_dir() else []:
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(row, dict) and isinstance(row.get("name"), str):
            rows.append(row)
    return rows

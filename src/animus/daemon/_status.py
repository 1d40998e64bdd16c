"""The daemon's part of `animus status`: ``daemon.json`` as a live daemon's identity (the rest is animus.services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from animus.daemon._info import read_info


def daemon_section(state_dir: Path) -> dict[str, Any]:
    info = read_info(state_dir)
    if info is None:
        return {"running": False}
    return {"running": True, **info.to_dict()}

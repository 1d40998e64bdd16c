"""How animus answers an ACP agent's ``session/request_permission``: the phase's policy over the tool call.

A read-only phase grants only tool calls that look and fetch (ACP tool kinds ``read``, ``search``,
``think``, ``fetch``); every edit, delete, move, command execution, mode switch or unknown kind is
refused as it is asked for. Otherwise a call is granted unless it would change a file outside the
worktree (an ``edit``/``delete``/``move`` whose location lies elsewhere).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

#: the ACP tool kinds a read-only phase grants
_READ_KINDS = frozenset({"read", "search", "think", "fetch"})
_CHANGE_KINDS = frozenset({"edit", "delete", "move"})
_PATH_KEYS = ("file_path", "path", "abs_path", "filePath", "notebook_path", "destination")


def _inside(path: str, root: str) -> bool:
    """True when ``path`` (absolute, or relative to ``root``), links resolved, lies in ``root``."""
    full = os.path.realpath(os.path.join(root, path))
    base = os.path.realpath(root)
    return full == base or full.startswith(base.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class _Ruling:
    granted: bool
    reason: str


@dataclass(frozen=True)
class _Policy:
    """The answers of one run: ``root`` is the worktree, ``read_only`` the phase's flag."""

    root: str
    read_only: bool = False

    def rule(self, tool_call: dict[str, Any]) -> _Ruling:
        """The answer to a permission request for ``tool_call`` (the ACP ToolCallUpdate, wire shape)."""
        kind = str(tool_call.get("kind") or "other")
        if self.read_only and kind not in _READ_KINDS:
            return _Ruling(False, f"refused: the phase is read-only (tool kind {kind!r})")
        paths = [str(loc.get("path")) for loc in tool_call.get("locations") or () if isinstance(loc, dict) and loc.get("path")]
        raw = tool_call.get("rawInput")
        if isinstance(raw, dict):  # the paths a tool names in its input count too (file_path, path, …)
            paths += [str(raw[k]) for k in _PATH_KEYS if isinstance(raw.get(k), str) and raw[k]]
        if kind in _CHANGE_KINDS:
            outside = [p for p in paths if not _inside(p, self.root)]
            if outside:
                return _Ruling(False, f"refused: {kind} outside the worktree ({outside[0]})")
        return _Ruling(True, "read-only phase: a read" if self.read_only else "allowed within the worktree")

"""File-watcher triggers as a pure poller: mtime scans of globs, ignore patterns, and a quiet-period debounce.

The daemon's tick calls ``FileWatcher.poll(now)``; a returned ``Change`` means "files changed and then
stayed quiet for ``debounce_secs``", and ``task_for(change)`` is the task that starts the trigger's
workflow. Nothing here sleeps, spawns or writes: times are passed in, so tests use explicit clocks.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from animus.config import FileWatcherTrigger
    from animus.store import NewTask

ALWAYS_IGNORED = (".git/*", ".git", "*/.git/*", ".animus/*")
MAX_LISTED = 20


@dataclass(frozen=True)
class Change:
    """A settled batch of changed paths (relative, sorted) for one trigger."""

    trigger_id: str
    paths: tuple[str, ...]
    first_seen: float
    settled_at: float


Snapshot = dict[str, tuple[int, int]]  # relative path → (mtime_ns, size)


@dataclass
class FileWatcher:
    """Polls one file-watcher trigger's globs under ``root``."""

    trigger: FileWatcherTrigger
    root: Path
    _snapshot: Snapshot | None = None
    _pending: set[str] = field(default_factory=set)
    _first_seen: float = 0.0
    _last_change: float = 0.0

    def scan(self) -> Snapshot:
        config = self.trigger.config
        found: Snapshot = {}
        for pattern in config.paths:
            for path in self.root.glob(pattern):
                try:
                    if not path.is_file():
                        continue
                    rel = path.relative_to(self.root).as_posix()
                    if self._ignored(rel):
                        continue
                    stat = path.stat()
                except (OSError, ValueError):
                    continue
                found[rel] = (stat.st_mtime_ns, stat.st_size)
        return found

    def _ignored(self, rel: str) -> bool:
        patterns = (*ALWAYS_IGNORED, *self.trigger.config.ignore)
        return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(os.path.basename(rel), p) for p in patterns)

    def poll(self, now: float) -> list[Change]:
        """Scan; return the settled change (at most one) once nothing changed for ``debounce_secs``.

        The first poll only takes the baseline: files that existed before the daemon started are not changes.
        """
        current = self.scan()
        previous, self._snapshot = self._snapshot, current
        if previous is None:
            return []
        changed = {p for p in current.keys() | previous.keys() if current.get(p) != previous.get(p)}
        if changed:
            if not self._pending:
                self._first_seen = now
            self._pending |= changed
            self._last_change = now
            return []
        if self._pending and now - self._last_change >= self.trigger.config.debounce_secs:
            change = Change(self.trigger.id, tuple(sorted(self._pending)), self._first_seen, now)
            self._pending = set()
            return [change]
        return []

    def task_for(self, change: Change) -> NewTask:
        """The task that starts this trigger's workflow for ``change`` (status ready; enqueue it with source file_watcher)."""
        from animus.domain.tasks import TaskStatus
        from animus.store import NewTask

        listed = list(change.paths[:MAX_LISTED])
        more = len(change.paths) - len(listed)
        head = ", ".join(listed[:3]) + (f" and {len(change.paths) - 3} more" if len(change.paths) > 3 else "")
        description = "Changed files:\n" + "\n".join(f"- {p}" for p in listed) + (f"\n- … {more} more" if more else "")
        return NewTask(title=f"{self.trigger.id}: {head}", description=description, status=TaskStatus.READY,
                       labels=(f"trigger-{self.trigger.id}",), workflow=self.trigger.workflow_ref)

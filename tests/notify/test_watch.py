"""The file-watcher poller with explicit times: baseline, globs, ignores, debounce (quiet period)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from animus.notify import FileWatcher


def _trigger(debounce: float = 5.0) -> Any:
    from animus.config import FileWatcherTrigger

    return FileWatcherTrigger.model_validate_json(json.dumps({
        "id": "docs", "type": "file_watcher", "workflow_ref": "docs-flow",
        "config": {"paths": ["docs/**/*.md", "*.txt"], "ignore": ["docs/drafts/*", "*.tmp.md"], "debounce_secs": debounce},
    }))


def _touch(path: Path, text: str, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime * 10**9, mtime * 10**9))


def test_changes_settle_only_after_the_quiet_period(tmp_path: Path) -> None:
    _touch(tmp_path / "docs" / "a.md", "a", 1000)
    watcher = FileWatcher(_trigger(), tmp_path)
    assert watcher.poll(0.0) == []  # baseline: existing files are not changes
    _touch(tmp_path / "docs" / "a.md", "a2", 1001)
    assert watcher.poll(1.0) == []  # changed: wait for quiet
    _touch(tmp_path / "docs" / "guide" / "b.md", "b", 1002)
    assert watcher.poll(3.0) == []  # another change restarts the quiet period
    assert watcher.poll(7.9) == []  # 4.9 s quiet
    (change,) = watcher.poll(8.0)
    assert change.paths == ("docs/a.md", "docs/guide/b.md") and change.first_seen == 1.0 and change.settled_at == 8.0
    assert watcher.poll(20.0) == []  # nothing new


def test_ignored_and_unmatched_paths_never_fire(tmp_path: Path) -> None:
    watcher = FileWatcher(_trigger(debounce=0), tmp_path)
    watcher.poll(0.0)
    _touch(tmp_path / "docs" / "drafts" / "x.md", "x", 1000)
    _touch(tmp_path / "docs" / "y.tmp.md", "y", 1000)
    _touch(tmp_path / "src" / "main.py", "z", 1000)
    _touch(tmp_path / ".git" / "notes.txt", "g", 1000)
    assert watcher.poll(1.0) == [] and watcher.poll(2.0) == []
    _touch(tmp_path / "notes.txt", "n", 1000)
    watcher.poll(3.0)
    (change,) = watcher.poll(3.0)
    assert change.paths == ("notes.txt",)


def test_deletions_count_and_the_task_starts_the_trigger_workflow(tmp_path: Path) -> None:
    _touch(tmp_path / "docs" / "gone.md", "bye", 1000)
    watcher = FileWatcher(_trigger(debounce=1), tmp_path)
    watcher.poll(0.0)
    (tmp_path / "docs" / "gone.md").unlink()
    watcher.poll(1.0)
    (change,) = watcher.poll(2.0)
    task = watcher.task_for(change)
    assert change.paths == ("docs/gone.md",)
    assert task.workflow == "docs-flow" and task.status.value == "ready" and task.labels == ("trigger-docs",)
    assert task.title == "docs: docs/gone.md" and "- docs/gone.md" in task.description

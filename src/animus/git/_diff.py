"""What a task changed since its base commit (file lists and stats), and what one phase changed in its worktree."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animus.git._command import _out, _run_git, _split_z


@dataclass(frozen=True)
class DiffStat:
    """Totals of the change since the base, plus git's ``--stat`` text (committed, staged, unstaged, new files)."""

    files_changed: int
    insertions: int
    deletions: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_changed": self.files_changed,
            "insertions": self.insertions,
            "deletions": self.deletions,
            "text": self.text,
        }


def changed_files(worktree_path: Path, base_sha: str) -> list[str]:
    """Every path that differs from ``base_sha``: committed, staged, unstaged and untracked (not ignored)."""
    cwd = Path(worktree_path)
    tracked = _split_z(_out(["diff", "--name-only", "--no-renames", "-z", base_sha, "--"], cwd))
    untracked = _split_z(_out(["ls-files", "--others", "--exclude-standard", "-z"], cwd))
    return sorted(set(tracked) | set(untracked))


def worktree_tree(worktree_path: Path) -> str:
    """The id of a tree object holding the worktree's content as it is now: tracked, staged, unstaged and
    untracked files (not ignored ones), written through a throw-away index so the real one is untouched.

    Two snapshots compare with ``changed_since``; a commit in between does not count as a change.
    """
    cwd = Path(worktree_path)
    with _scratch_index(cwd) as env:
        _run_git(["add", "-A"], cwd, env=env)
        return _run_git(["write-tree"], cwd, env=env).stdout.strip()


def changed_since(worktree_path: Path, tree: str) -> list[str]:
    """Every path whose content in the worktree differs from the snapshot ``tree`` (``worktree_tree``)."""
    cwd = Path(worktree_path)
    now = worktree_tree(cwd)
    if now == tree:
        return []
    return sorted(set(_split_z(_out(["diff", "--name-only", "--no-renames", "-z", tree, now], cwd))))


@contextmanager
def _scratch_index(cwd: Path) -> Iterator[dict[str, str]]:
    """The env that points git at a copy of the worktree's index, for the length of the block."""
    index = Path(_out(["rev-parse", "--path-format=absolute", "--git-path", "index"], cwd))
    with tempfile.TemporaryDirectory(prefix="animus-index-") as tmp:
        scratch = Path(tmp) / "index"
        if index.exists():
            shutil.copyfile(index, scratch)
        yield {"GIT_INDEX_FILE": os.fspath(scratch)}


def diff_stat(worktree_path: Path, base_sha: str, *, width: int = 100) -> DiffStat:
    """Insertions and deletions since ``base_sha`` including untracked files, without touching the index.

    New files are counted by staging everything into a throw-away copy of the index.
    """
    cwd = Path(worktree_path)
    with _scratch_index(cwd) as env:
        _run_git(["add", "-A"], cwd, env=env)
        numstat = _run_git(["diff", "--cached", "--numstat", "--no-renames", "-z", base_sha], cwd, env=env).stdout
        text = _run_git(["diff", "--cached", f"--stat={width}", "--no-renames", base_sha], cwd, env=env).stdout
    files = insertions = deletions = 0
    for record in _split_z(numstat):
        added, _, rest = record.partition("\t")
        removed, _, _ = rest.partition("\t")
        files += 1
        insertions += int(added) if added.isdigit() else 0
        deletions += int(removed) if removed.isdigit() else 0
    return DiffStat(files, insertions, deletions, text.rstrip("\n"))

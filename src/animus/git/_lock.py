"""``repo_lock``: one git-changing animus operation per repository at a time (worktree admin and landing)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])
_held = threading.local()


@contextmanager
def _repo_lock(repo_root: Path) -> Iterator[None]:
    """Exclusive across threads and processes (flock on ``<git-common-dir>/animus.lock``), re-entrant per thread."""
    from animus.git._repo import Repo

    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    fd = os.open(Repo(Path(repo_root)).common_dir / "animus.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
    finally:
        os.close(fd)


def _locked(fn: _F) -> _F:
    """Run ``fn(repo_root, ...)`` under ``repo_lock(repo_root)``."""

    @wraps(fn)
    def wrapper(repo_root: Path, *args: Any, **kwargs: Any) -> Any:
        with _repo_lock(repo_root):
            return fn(repo_root, *args, **kwargs)

    return wrapper  # type: ignore[return-value]

"""Atomic file writes (a reader sees the old file or the whole new one, never half) and private state paths (stdlib ``os`` only: the supervisor imports it)."""

from __future__ import annotations

import os
from itertools import count

# group and other bits: a private path has none of them
_NOT_OWNER = 0o077

# pid + a per-process sequence: two threads (or a pid reused after a crash) never share a temp file
_SEQ = count()


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    mode: int = 0o666,
    durable: bool = False,
    first_wins: bool = False,
) -> bool:
    """Write ``data`` (text is UTF-8) to ``path`` through a temp file in the same directory; True when written.

    ``mode`` is the new file's permission bits before the umask (0o666 is what ``open()`` gives).
    ``durable`` also survives a power cut (fsync of the file and its directory). ``first_wins``
    creates ``path`` only if it does not exist yet, and returns False when another writer got there
    first (link() refuses an existing target, unlike rename(), so two writers can never both win).
    """
    target = os.fspath(path)
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{next(_SEQ)}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    renamed = False
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if first_wins:
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, target)
            renamed = True
    finally:
        if not renamed:  # linked, lost the race, or failed: the temp file must not stay behind
            _unlink(tmp)
    if durable:
        _fsync_dir(folder)
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def private_dir(path: str | os.PathLike[str], *, top: str | os.PathLike[str] | None = None) -> str:
    """Create ``path`` (and its missing parents) 0700 and return it; tighten ``top`` .. ``path`` to 0700.

    ``mkdir -p`` gives missing parents the umask's mode, so each missing component is made here,
    top-down, with 0700. Existing directories from ``top`` (default: ``path`` itself) down to
    ``path`` that grant group or other anything are chmod'ed 0700: state dirs older versions made
    0755 close on their next open. Explicit modes rather than a process umask, because the agents
    and git commands animus starts must keep the user's umask for the files they write.
    """
    target = os.path.abspath(os.fspath(path))
    missing: list[str] = []
    here = target
    while not os.path.isdir(here):
        missing.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for component in reversed(missing):
        try:
            os.mkdir(component, 0o700)
        except FileExistsError:
            pass  # a concurrent creator won; it made it 0700 too, or the tightening below does
    stop = os.path.abspath(os.fspath(top)) if top is not None else target
    if os.path.commonpath([stop, target]) != stop:
        stop = target  # a ``top`` that does not hold ``path`` tightens nothing above it
    here = target
    while True:
        if os.stat(here).st_mode & _NOT_OWNER:
            os.chmod(here, 0o700)
        if here == stop:
            return target
        here = os.path.dirname(here)


def private_file(path: str | os.PathLike[str]) -> str:
    """Create ``path`` 0600 if missing (empty; an existing file keeps its bytes), and tighten it to 0600; return it.

    For files another API opens later by name (a logging FileHandler, SQLite): creating them first
    fixes their mode, and SQLite gives its ``-wal``/``-shm`` files the database file's mode.
    """
    target = os.fspath(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & _NOT_OWNER:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return target

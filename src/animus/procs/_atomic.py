"""Atomic file writes: a reader sees the old file or the whole new one, never half (stdlib ``os`` only: the supervisor imports it)."""

from __future__ import annotations

import os
from itertools import count

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

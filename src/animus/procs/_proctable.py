"""The Linux process table (/proc): identity by start time, the run marker, and killing a run's whole tree."""

from __future__ import annotations

import os
import time

from animus.procs._rundir import _MARKER_RUN_DIR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from signal import SIGKILL, SIGTERM
else:
    # _signal, not signal: the enum wrapper costs the supervisor milliseconds on every launch
    from _signal import SIGKILL, SIGTERM

_MARKER_PREFIX = _MARKER_RUN_DIR.encode() + b"="
_DEAD = ("Z", "X", "x")


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state letter, process group, start time in clock ticks since boot) of ``pid``; None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except (OSError, ValueError):
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` (field 22 of /proc/<pid>/stat), None when there is no such process."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[2]


def is_alive(pid: int | None, started: int | None) -> bool:
    """True when ``pid`` runs, is not a zombie, and is the same process that started at ``started``."""
    if not pid or started is None:
        return False
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in _DEAD and stat[2] == started


def _all_pids() -> Iterator[int]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)


def _marked_processes() -> Iterator[tuple[int, str]]:
    """(pid, run dir) of every live process carrying the run marker that we may read."""
    me = os.getpid()
    for pid in _all_pids():
        if pid != me:
            where = _marker(pid)
            if where is not None:
                yield pid, where


def _marker(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(_MARKER_PREFIX):
            return entry[len(_MARKER_PREFIX) :].decode("utf-8", "surrogateescape")
    return None


def _run_pids(run_dir: str, pgid: int | None = None) -> list[int]:
    """Live (non-zombie) processes of the run in ``run_dir``: marked with it, or members of group ``pgid``."""
    return [pid for pid, _ in _members(run_dir, pgid)]


def _members(run_dir: str, pgid: int | None) -> list[tuple[int, int]]:
    me = os.getpid()
    found = []
    for pid in _all_pids():
        if pid == me:
            continue
        stat = _proc_stat(pid)
        if stat is None or stat[0] in _DEAD:
            continue
        if (pgid and stat[1] == pgid) or _marker(pid) == run_dir:
            found.append((pid, stat[1]))
    return found


def _signal_pids(pids: list[int], sig: int) -> list[int]:
    """Send ``sig`` to each pid; the pids that received it."""
    hit = []
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue
        hit.append(pid)
    return hit


def signal_process(pid: int, sig: int) -> None:
    """Send ``sig`` to one process (the daemon, from `animus daemon stop`); ProcessLookupError when it is gone."""
    os.kill(pid, sig)


def _signal_group(pgid: int | None, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group is gone."""
    if not pgid or pgid <= 1:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _terminate_run(
    run_dir: str,
    pgid: int | None,
    grace: float,
    leader_gone: Callable[[], bool],
) -> list[int]:
    """Stop every process of a run: SIGTERM its group and marked processes, SIGKILL what is left after ``grace``.

    ``pgid`` must only be given while it is known to belong to the run (its leader is alive or is
    our unreaped child). Returns every pid that was signalled.
    """
    hit: set[int] = set()
    members = _members(run_dir, pgid)
    hit.update(pid for pid, _ in members)
    grouped = _signal_group(pgid, SIGTERM)
    # a second SIGTERM makes some programs skip their clean shutdown: group members got theirs already
    _signal_pids([pid for pid, group in members if not (grouped and group == pgid)], SIGTERM)
    deadline = time.monotonic() + max(grace, 0.0)
    while time.monotonic() < deadline:
        if leader_gone() and not _run_pids(run_dir, pgid):
            return sorted(hit)
        time.sleep(0.05)
    hit.update(_kill_run(run_dir, pgid))
    return sorted(hit)


def _kill_run(run_dir: str, pgid: int | None) -> list[int]:
    """SIGKILL the group and every marked process of a run until none is left (forks race the kill)."""
    hit: set[int] = set()
    for _ in range(50):
        _signal_group(pgid, SIGKILL)
        pids = _run_pids(run_dir, pgid)
        if not pids:
            break
        hit.update(_signal_pids(pids, SIGKILL))
        time.sleep(0.01)
    return sorted(hit)

"""Whole-directory views of runs: ``list_runs`` and ``sweep_orphans`` (kill processes of runs nobody owns)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from animus.procs import _rundir as rd
from animus.procs._handle import RunHandle
from animus.procs._proctable import _kill_run, _marked_processes, is_alive
from animus.procs._records import RunSummary
from animus.procs._spec import _RUN_ID_PATTERN

_log = logging.getLogger("animus.procs")


def _run_ids(runs_dir: Path) -> list[str]:
    try:
        names = os.listdir(runs_dir)
    except OSError:
        return []
    return sorted(n for n in names if _RUN_ID_PATTERN.fullmatch(n) and ".." not in n and (runs_dir / n).is_dir())


def _remove_stale_claims(runs_dir: Path) -> None:
    """Remove the staging dirs of launchers killed before their claim (``_launch._claim``) was renamed into place."""
    import shutil
    import time

    try:
        names = [n for n in os.listdir(runs_dir) if n.startswith(".claim-")]
    except OSError:
        return
    for name in names:
        path = runs_dir / name
        try:
            if time.time() - path.stat().st_mtime > rd._START_DEADLINE_SECS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run in ``runs_dir``, oldest first, each judged now (see ``RunHandle.state``)."""
    runs_dir = Path(runs_dir)
    summaries = []
    for run_id in _run_ids(runs_dir):
        handle = RunHandle(run_id, runs_dir)
        state = handle.state()
        spec = handle.spec_record()
        summaries.append(
            RunSummary(
                run_id=run_id,
                status=state.status,
                created_at=str(spec.get("created_at", "")),
                labels=handle.labels,
                exit_reason=state.exit.reason if state.exit else None,
            )
        )
    return sorted(summaries, key=lambda s: (s.created_at, s.run_id))


def sweep_orphans(runs_dir: Path, known_run_ids: set[str]) -> list[int]:
    """SIGKILL every live process of a run in ``runs_dir`` that is not in ``known_run_ids``; the pids killed.

    A process belongs to a run when it carries the run's ``ANIMUS_RUN_DIR`` marker (every
    descendant of the agent inherits it, even after setsid), or is the run's supervisor or agent
    by pid.json with a matching start time. Runs in ``known_run_ids`` are never touched, and runs
    of other run directories neither (the marker holds the full path).
    """
    runs_dir = Path(runs_dir)
    _remove_stale_claims(runs_dir)
    root = os.path.realpath(runs_dir)
    orphans: dict[str, set[int]] = {}
    for pid, run_dir in _marked_processes():
        parent, _, run_id = run_dir.rpartition("/")
        if parent == root and run_id not in known_run_ids:
            orphans.setdefault(run_id, set()).add(pid)
    for run_id in _run_ids(runs_dir):
        if run_id not in known_run_ids:
            orphans.setdefault(run_id, set())
    killed: list[int] = []
    for run_id, pids in sorted(orphans.items()):
        handle = RunHandle(run_id, runs_dir)
        info = handle.pid_info()
        hit: set[int] = set()
        pgid = None
        if info is not None:
            # the supervisor first, so it cannot react to its agent dying
            if is_alive(info.supervisor_pid, info.supervisor_start_time) and _kill(info.supervisor_pid):
                hit.add(info.supervisor_pid)
            if is_alive(info.agent_pid, info.agent_start_time):
                pgid = info.agent_pgid
                hit.add(info.agent_pid)
        if not pids and not hit:
            continue
        hit.update(_kill_run(os.path.join(root, run_id), pgid))
        if handle.dir.is_dir() and handle.exit_record() is None:
            rd._write_json_first(
                handle.dir / rd._EXIT,
                rd._exit_record(
                    "stopped",
                    exit_code=None,
                    signal=None,
                    duration_secs=None,
                    run_dir=str(handle.dir),
                    error="killed by the orphan sweep: no owner knew this run",
                ),
            )
        _log.warning("swept orphan run run_id=%s pids=%s", run_id, sorted(hit))
        killed.extend(sorted(hit))
    return killed


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True

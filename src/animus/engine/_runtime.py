"""The executor: the one process per project that runs workflows (DBOS launched with a stable identity).

``application_version`` is pinned to ``ENGINE_VERSION`` so an upgrade of dbos or an edit of the
workflow code never orphans in-flight runs (research §2); the executor id is stored once in the state
dir so recovery after a crash picks up exactly this executor's runs. CLI processes that only enqueue,
approve or cancel never launch DBOS (they use ``DBOSClient`` via ``_control.py``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from animus import procs
from animus.config.project import StateLayout
from animus.domain.errors import Conflict
from animus.engine._steps import EngineContext
from animus.store import sqlite_engine

ENGINE_VERSION = "animus-engine-1"
# DBOS's workflow statuses as the engine reads them (``workflow_status.status``).
_DBOS_UNFINISHED = frozenset({"PENDING", "ENQUEUED"})
_DBOS_FAILED = frozenset({"ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})
_DBOS_ENDED = _DBOS_FAILED | {"SUCCESS", "CANCELLED"}
_APP_NAME = "animus"
_context: EngineContext | None = None


def executor_id(state_dir: Path) -> str:
    """This project's stable executor id, created once (atomically) in the state dir."""
    path = StateLayout(state_dir).executor_id
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    procs.private_dir(state_dir, top=StateLayout(state_dir).private_top)
    candidate = f"{socket.gethostname().split('.')[0]}-{uuid.uuid4().hex[:10]}"
    procs.write_atomic(path, candidate + "\n", mode=0o600, first_wins=True)  # a racer reads the winner's id
    return path.read_text(encoding="utf-8").strip()


class ExecutorLock:
    """``executor.lock`` in the state dir: one executor per project; the holder's pid is inside."""

    def __init__(self, state_dir: Path, role: str = "animus run") -> None:
        self.path = StateLayout(state_dir).executor_lock
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> None:
        procs.private_dir(self.path.parent, top=StateLayout(self.path.parent).private_top)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise Conflict(
                f"another animus executor is running for this project ({holder})",
                details={"holder": holder},
                hint="wait for it to finish, or stop it (Ctrl-C / `animus daemon stop`)",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({self.role})".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ExecutorLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _current_context() -> EngineContext:
    assert _context is not None, "the engine is not started in this process"
    return _context


def _dbos_url(db_url: str) -> str:
    return "postgresql://" + db_url.split("://", 1)[1] if db_url.startswith("postgresql+psycopg://") else db_url


def start_engine(ctx: EngineContext, *, log_file: Path | None = None) -> Any:
    """Configure and launch DBOS in this process (recovering this executor's pending runs)."""
    global _context
    from dbos import DBOS, SQLAlchemyDatasource

    from animus.engine._workflow import _register

    _context = ctx
    from animus.engine._fleet import _Identity

    _Identity.executor_id = executor_id(ctx.state_dir)
    logger = logging.getLogger("dbos")
    if not logger.handlers:
        handler: logging.Handler = logging.FileHandler(procs.private_file(log_file)) if log_file else logging.NullHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    url = _dbos_url(ctx.db_url)
    sqlite = url.startswith("sqlite")
    DBOS(
        config={
            "name": _APP_NAME,
            "system_database_url": url,
            "system_database_engine": sqlite_engine(url) if sqlite else None,
            "application_version": ENGINE_VERSION,
            "executor_id": executor_id(ctx.state_dir),
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
        }
    )
    ds = SQLAlchemyDatasource.create(url, engine=sqlite_engine(url) if sqlite else None)
    workflow = _register(ds, _current_context)
    DBOS.launch()
    return workflow


def stop_engine() -> None:
    from dbos import DBOS

    DBOS.destroy(workflow_completion_timeout_sec=0)

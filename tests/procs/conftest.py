"""Fixtures for procs tests: a runs dir whose leftover processes are always swept, and a spec factory."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from animus.procs import RunSpec, build_env, sweep_orphans

PY = sys.executable


@pytest.fixture
def runs_dir(tmp_path: Path) -> Iterator[Path]:
    runs = tmp_path / "runs"
    yield runs
    # nothing a test started may outlive it, whatever the test did
    sweep_orphans(runs, set())


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., RunSpec]:
    def make(run_id: str, code: str, **kwargs: Any) -> RunSpec:
        kwargs.setdefault("cwd", str(tmp_path))
        kwargs.setdefault("env", build_env(os.environ, {}))
        kwargs.setdefault("grace_secs", 0.3)
        return RunSpec(run_id=run_id, argv=[PY, "-c", code], **kwargs)

    return make


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def helpers() -> Any:
    class Helpers:
        running = staticmethod(pid_running)
        wait_for = staticmethod(wait_for)
        python = PY

    return Helpers

"""Process supervision: short programs (run_program) and detached agent runs with re-attach."""

from __future__ import annotations

# not typing.TYPE_CHECKING: importing typing costs the supervisor's every start (see below)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from animus.procs._atomic import private_dir, private_file, write_atomic
    from animus.procs._env import build_env, is_secret, is_secret_name, redact, secret_env, without_own_venv
    from animus.procs._faults import fault_point
    from animus.procs._handle import RunHandle, attach, stop
    from animus.procs._launch import launch
    from animus.procs._piped import CappedResult, PipedProcess, run_capped, spawn_piped
    from animus.procs._proctable import is_alive, signal_process, start_time
    from animus.procs._records import ExitReason, ExitRecord, PidInfo, RunState, RunStatus, RunSummary
    from animus.procs._run import ProgramResult, run_program
    from animus.procs._spec import RunSpec
    from animus.procs._sweep import list_runs, sweep_orphans

__all__ = [
    "CappedResult",
    "DetachedChild",
    "ExitReason",
    "ExitRecord",
    "PidInfo",
    "PipedProcess",
    "ProgramResult",
    "RunHandle",
    "RunSpec",
    "RunState",
    "RunStatus",
    "RunSummary",
    "attach",
    "build_env",
    "fault_point",
    "is_alive",
    "is_secret",
    "is_secret_name",
    "launch",
    "list_runs",
    "private_dir",
    "private_file",
    "redact",
    "run_capped",
    "run_program",
    "secret_env",
    "signal_process",
    "spawn_detached",
    "spawn_piped",
    "start_time",
    "stop",
    "sweep_orphans",
    "without_own_venv",
    "write_atomic",
]

# Imported on first use: the supervisor runs as `python -m animus.procs._supervisor`, which imports
# this package first, and must not pay for subprocess, dataclasses and the domain on every launch.
_HOMES = {
    "CappedResult": "_piped",
    "DetachedChild": "_run",
    "ExitReason": "_records",
    "ExitRecord": "_records",
    "PidInfo": "_records",
    "PipedProcess": "_piped",
    "ProgramResult": "_run",
    "RunHandle": "_handle",
    "RunSpec": "_spec",
    "RunState": "_records",
    "RunStatus": "_records",
    "RunSummary": "_records",
    "attach": "_handle",
    "build_env": "_env",
    "fault_point": "_faults",
    "is_alive": "_proctable",
    "is_secret": "_env",
    "is_secret_name": "_env",
    "launch": "_launch",
    "list_runs": "_sweep",
    "private_dir": "_atomic",
    "private_file": "_atomic",
    "redact": "_env",
    "run_capped": "_piped",
    "run_program": "_run",
    "spawn_piped": "_piped",
    "secret_env": "_env",
    "signal_process": "_proctable",
    "stop": "_handle",
    "spawn_detached": "_run",
    "start_time": "_proctable",
    "sweep_orphans": "_sweep",
    "without_own_venv": "_env",
    "write_atomic": "_atomic",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'animus.procs' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"animus.procs.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

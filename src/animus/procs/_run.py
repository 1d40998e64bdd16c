"""Run a short-lived program to completion (argv only, never a shell): git, version probes, command phases."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from animus.domain.errors import SpawnError


@dataclass(frozen=True)
class ProgramResult:
    """Outcome of ``run_program``: exit code (negative = killed by that signal) and captured output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run_program(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input_text: str | None = None,
) -> ProgramResult:
    """Run ``argv`` and capture its output as text (undecodable bytes replaced).

    stdin is closed unless ``input_text`` is given, so a program can never wait on a terminal.
    On timeout the whole process group is killed and ``timed_out`` is set.
    """
    if not argv:
        raise SpawnError("cannot run an empty argv")
    args = [str(a) for a in argv]
    try:
        proc = subprocess.Popen(
            args,
            cwd=str(cwd) if cwd is not None else None,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise SpawnError(f"program not found: {args[0]!r}", hint="is it installed and on PATH?") from exc
    except (PermissionError, NotADirectoryError) as exc:
        where = f" in {Path(cwd)}" if cwd is not None else ""
        raise SpawnError(f"cannot start {args[0]!r}{where}: {exc}") from exc
    timed_out = False
    try:
        out, err = proc.communicate(input=input_text.encode() if input_text is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    return ProgramResult(
        argv=tuple(args),
        returncode=proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        timed_out=timed_out,
    )


@dataclass(frozen=True)
class DetachedChild:
    """A program started in its own session by ``spawn_detached``; this process may reap it."""

    pid: int

    def poll(self) -> int | None:
        """Its exit code once it has ended (negative: killed by that signal), else None; never blocks."""
        done, status = os.waitpid(self.pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(status) if done == self.pid else None


def spawn_detached(argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None) -> DetachedChild:
    """Start ``argv`` (never a shell) in a new session: stdin /dev/null, stdout and stderr appended to ``log_path``.

    For long-lived children that must outlive the caller's terminal (the daemon's detached start).
    """
    if not argv:
        raise SpawnError("cannot run an empty argv")
    args = [str(a) for a in argv]
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        pid = os.posix_spawn(args[0], args, dict(os.environ if env is None else env), file_actions=file_actions, setsid=True)
    except OSError as exc:
        raise SpawnError(f"cannot start {args[0]!r}: {exc.strerror}") from exc
    return DetachedChild(pid)

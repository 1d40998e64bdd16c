"""A child spoken to over pipes (plugins): stdin and stdout are ours, stderr goes to a log file."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from animus.domain.errors import SpawnError


class PipedProcess:
    """One child with a pipe each way; ``kill`` takes its whole process group (it may fork helpers)."""

    def __init__(self, proc: subprocess.Popen[bytes], own_group: bool) -> None:
        self._proc = proc
        self._own_group = own_group

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def stdin(self) -> IO[bytes]:
        assert self._proc.stdin is not None
        return self._proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self._proc.stdout is not None
        return self._proc.stdout

    def poll(self) -> int | None:
        """Its exit code once it ended (negative: killed by that signal), else None."""
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code, waiting up to ``timeout`` seconds; None when it still runs then."""
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the child (and its group when it leads one), then reap it."""
        if self._proc.poll() is None:
            try:
                if self._own_group:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                else:
                    self._proc.kill()
            except ProcessLookupError:
                pass
        self._proc.wait()
        self.close_pipes()

    def close_pipes(self) -> None:
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def spawn_piped(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    stderr_path: Path,
    own_group: bool = True,
) -> PipedProcess:
    """Start ``argv`` (never a shell) with piped stdin/stdout and stderr appended to ``stderr_path``.

    ``own_group`` starts it in a new session, so a kill takes everything it forked; False keeps it in
    the caller's group (a plugin under an agent run's supervisor must die with the run).
    """
    if not argv:
        raise SpawnError("cannot run an empty argv")
    args = [str(a) for a in argv]
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(stderr_path, "ab") as err:
            proc = subprocess.Popen(
                args,
                cwd=str(cwd),
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=own_group,
                close_fds=True,
            )
    except FileNotFoundError as exc:
        raise SpawnError(f"program not found: {args[0]!r}") from exc
    except OSError as exc:
        raise SpawnError(f"cannot start {args[0]!r}: {exc.strerror or exc}") from exc
    return PipedProcess(proc, own_group)


@dataclass(frozen=True)
class CappedResult:
    """What ``run_capped`` saw: exit code (None: killed at the deadline), stdout up to the cap, and why it stopped."""

    returncode: int | None
    stdout: bytes
    timed_out: bool = False
    overflowed: bool = False


def run_capped(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    timeout: float,
    max_bytes: int,
    stderr_path: Path | None = None,
) -> CappedResult:
    """Run ``argv`` with stdin closed, keeping at most ``max_bytes`` of stdout and killing it at ``timeout``.

    For probes of untrusted programs (a plugin's ``--manifest``): a program that never ends or prints
    forever is killed, never buffered without bound.
    """
    if not argv:
        raise SpawnError("cannot run an empty argv")
    args = [str(a) for a in argv]
    if stderr_path is not None:
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        err: IO[bytes] | int = open(stderr_path, "ab") if stderr_path is not None else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                args,
                cwd=str(cwd),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            if not isinstance(err, int):
                err.close()
    except FileNotFoundError as exc:
        raise SpawnError(f"program not found: {args[0]!r}") from exc
    except OSError as exc:
        raise SpawnError(f"cannot start {args[0]!r}: {exc.strerror or exc}") from exc
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    timed_out = overflowed = False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                overflowed = True
                break
    proc.stdout.close()
    if timed_out or overflowed:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return CappedResult(None, b"".join(chunks)[:max_bytes], timed_out=timed_out, overflowed=overflowed)
    try:
        code = proc.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:  # closed its stdout but lingers
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return CappedResult(None, b"".join(chunks), timed_out=True)
    return CappedResult(code, b"".join(chunks))

"""The supervisor of one agent run: starts it, enforces its timeouts, honours stop requests, writes exit.json.

Run as ``python -m animus.procs._supervisor <rundir>`` (``launch()`` uses the equivalent
``python -S -c "...main(sys.argv)" <rundir>``, which skips runpy's imports), with the run's argv,
cwd, env and stdin marshal'ed on its own stdin (so env values never touch the disk). It forks once so it is nobody's child (no zombie in a long-lived launcher), prints its
pid, and lives in its own session until the agent and every process of the run are gone. Stdlib
only: its start-up time is part of every launch.
"""

from __future__ import annotations

import errno
import marshal
import os
import select
import sys
import time

from animus.procs import _rundir as rd
from animus.procs._proctable import _kill_run, _run_pids, _terminate_run, start_time

# typing and signal (enums) cost milliseconds on every launch; annotations are never evaluated here
TYPE_CHECKING = False
if TYPE_CHECKING:
    from signal import SIG_IGN, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGXFSZ
    from signal import signal as set_handler
    from typing import Any
else:
    from _signal import SIG_IGN, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGXFSZ
    from _signal import signal as set_handler

_TICK_SECS = 0.1
_HEARTBEAT_SECS = 1.0
_RESET_SIGNALS = (SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2)


def _log(level: str, message: str, **fields: object) -> None:
    """One ``key=value`` line on fd 2 (supervisor.log once detached); never given env values."""
    parts = [rd._now_iso(), level, message] + [f"{k}={v}" for k, v in fields.items()]
    try:
        os.write(2, (" ".join(parts) + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _which(program: str, path: str | None) -> str:
    """The file ``program`` names, searched on the CHILD's PATH the way execvp would."""
    if "/" in program:
        return program
    for folder in (path if path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(errno.ENOENT, "program not found on PATH", program)


class _Supervisor:
    """Owns one run directory from agent start to exit.json."""

    def __init__(self, run_dir: str, job: dict[str, Any], stdin: bytes | None) -> None:
        self.run_dir = run_dir
        self.job = job
        self.stdin = stdin
        self.pid = 0
        self.stop_signalled = False

    def path(self, name: str) -> str:
        return os.path.join(self.run_dir, name)

    def run(self) -> int:
        run_id = self.job["run_id"]
        if os.path.exists(self.path(rd._EXIT)):
            _log("WARNING", "run already ended before the supervisor started", run_id=run_id)
            return 1
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        out_fd = os.open(self.path(rd._STDOUT), flags, 0o600)
        err_fd = os.open(self.path(rd._STDERR), flags, 0o600)
        os.close(os.open(self.path(rd._HEARTBEAT), flags, 0o600))
        try:
            stdin_w = self.spawn(out_fd, err_fd)
        except OSError as exc:
            what = exc.strerror or str(exc)
            error = f"cannot start {os.path.basename(self.job['argv'][0])!r}: {what}"
            if isinstance(exc, FileNotFoundError) and exc.filename == self.job["cwd"]:
                error = f"working directory does not exist: {self.job['cwd']}"
            _log("ERROR", "spawn failed", run_id=run_id, error=repr(error))
            rd._write_json_first(
                self.path(rd._EXIT),
                rd._exit_record(
                    "spawn_failed", exit_code=None, signal=None, duration_secs=None, run_dir=self.run_dir, error=error
                ),
            )
            return 1
        started = time.monotonic()
        rd._write_json_atomic(
            self.path(rd._PID),
            {
                "supervisor_pid": os.getpid(),
                "supervisor_start_time": start_time(os.getpid()),
                "agent_pid": self.pid,
                "agent_pgid": self.pid,
                "agent_start_time": start_time(self.pid),
                "started_at": rd._now_iso(),
            },
        )
        _log("INFO", "agent started", run_id=run_id, pid=self.pid, program=os.path.basename(self.job["argv"][0]))
        set_handler(SIGTERM, self._on_term)
        set_handler(SIGINT, SIG_IGN)
        set_handler(SIGHUP, SIG_IGN)
        try:
            reason, grace = self.watch(out_fd, err_fd, stdin_w, started)
            self.finish(reason, grace, started)
        except BaseException as exc:  # the agent must never outlive a broken supervisor
            _log("ERROR", "supervisor failed", run_id=run_id, error=repr(exc))
            _kill_run(self.run_dir, self.pid if not self.leader_gone() else None)
            rd._write_json_first(
                self.path(rd._EXIT),
                rd._exit_record(
                    "supervisor_lost",
                    exit_code=None,
                    signal=None,
                    duration_secs=time.monotonic() - started,
                    run_dir=self.run_dir,
                    error=f"supervisor failed: {exc!r}",
                ),
            )
            return 1
        return 0

    def spawn(self, out_fd: int, err_fd: int) -> int | None:
        """Start the agent in its own process group; the write end of its stdin pipe, if any."""
        env = dict(self.job["env"])
        env[rd._MARKER_RUN_ID] = self.job["run_id"]
        env[rd._MARKER_RUN_DIR] = self.run_dir
        program = _which(self.job["argv"][0], env.get("PATH"))
        os.chdir(self.job["cwd"])
        stdin_w = None
        if self.stdin is None:
            in_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        else:
            in_fd, stdin_w = os.pipe()
        try:
            self.pid = os.posix_spawn(
                program,
                self.job["argv"],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, in_fd, 0),
                    (os.POSIX_SPAWN_DUP2, out_fd, 1),
                    (os.POSIX_SPAWN_DUP2, err_fd, 2),
                ],
                setpgroup=0,
                setsigdef=_RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError:
            if stdin_w is not None:
                os.close(stdin_w)
            raise
        finally:
            os.close(in_fd)
        if stdin_w is not None:
            os.set_blocking(stdin_w, False)
        return stdin_w

    def leader_gone(self) -> bool:
        """True once the agent exited; it stays an unreaped zombie so its pid and group cannot be reused."""
        if not self.pid:
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def watch(self, out_fd: int, err_fd: int, stdin_w: int | None, started: float) -> tuple[str, float]:
        """Wait for the agent to exit or for a reason to stop it: (reason, grace)."""
        timeout = self.job.get("timeout_secs")
        idle = self.job.get("idle_timeout_secs")
        grace = float(self.job.get("grace_secs", 5.0))
        try:
            pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            pidfd = None
        pending = memoryview(self.stdin or b"")
        last_size, last_activity, next_beat = -1, started, started + _HEARTBEAT_SECS
        try:
            while True:
                readable = [pidfd] if pidfd is not None else []
                writable = [stdin_w] if stdin_w is not None else []
                _, can_write, _ = select.select(readable, writable, [], _TICK_SECS)
                if stdin_w is not None and can_write:
                    stdin_w, pending = _feed(stdin_w, pending)
                if self.leader_gone():
                    return "exited", grace
                now = time.monotonic()
                size = os.fstat(out_fd).st_size + os.fstat(err_fd).st_size
                if size != last_size:
                    last_size, last_activity = size, now
                if now >= next_beat:
                    os.utime(self.path(rd._HEARTBEAT))
                    next_beat = now + _HEARTBEAT_SECS
                if self.stop_signalled or os.path.exists(self.path(rd._STOP)):
                    request = rd._read_json(self.path(rd._STOP)) or {}
                    asked = request.get("grace_secs")
                    return "stopped", float(asked) if isinstance(asked, (int, float)) else grace
                if timeout is not None and now - started >= timeout:
                    return "timeout", grace
                if idle is not None and now - last_activity >= idle:
                    return "idle_timeout", grace
        finally:
            if stdin_w is not None:
                os.close(stdin_w)
            if pidfd is not None:
                os.close(pidfd)

    def finish(self, reason: str, grace: float, started: float) -> None:
        """Make sure no process of the run is left, reap the agent, write exit.json."""
        run_id = self.job["run_id"]
        if reason == "exited":
            # the agent is a zombie here, so its group id is still ours to kill
            leftovers = _kill_run(self.run_dir, self.pid)
            if leftovers:
                _log("INFO", "killed processes left behind by the agent", run_id=run_id, pids=leftovers)
        else:
            _log("INFO", "stopping agent", run_id=run_id, reason=reason, grace=grace)
            leftovers = _terminate_run(self.run_dir, self.pid, grace, self.leader_gone)
            _log("INFO", "agent stopped", run_id=run_id, reason=reason, pids=leftovers)
        _, status = os.waitpid(self.pid, 0)
        if leftovers:
            # processes that forked while the leader was being reaped (only possible if any were left:
            # a clean exit with nothing left behind costs one /proc scan, not three)
            _kill_run(self.run_dir, None)
        code = os.waitstatus_to_exitcode(status)
        record = rd._exit_record(
            reason,
            exit_code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            duration_secs=time.monotonic() - started,
            run_dir=self.run_dir,
        )
        written = rd._write_json_first(self.path(rd._EXIT), record)
        _log(
            "INFO",
            "run ended",
            run_id=run_id,
            reason=reason,
            exit_code=record["exit_code"],
            signal=record["signal"],
            recorded=written,
        )
        if leftovers and _run_pids(self.run_dir):
            _log("WARNING", "processes of the run still alive after exit", run_id=run_id)

    def _on_term(self, signum: int, frame: object) -> None:
        self.stop_signalled = True


def _feed(fd: int, pending: memoryview) -> tuple[int | None, memoryview]:
    """Write what the pipe takes; close it (EOF for the agent) once everything is written or unwanted."""
    try:
        written = os.write(fd, pending[: 1 << 16]) if pending else 0
    except BlockingIOError:
        return fd, pending
    except OSError:  # the agent closed its stdin: it does not want the rest
        os.close(fd)
        return None, memoryview(b"")
    pending = pending[written:]
    if not pending:
        os.close(fd)
        return None, pending
    return fd, pending


def _read_job(data: bytes) -> tuple[dict[str, Any], bytes | None]:
    """The launcher's hand-over: the job and the agent's stdin, one marshal'ed dict (marshal costs no import)."""
    try:
        job = marshal.loads(data)
    except (EOFError, TypeError) as exc:
        raise ValueError(f"hand-over truncated or corrupt: {exc}") from exc
    if not isinstance(job, dict) or not isinstance(job.get("argv"), list):
        raise ValueError("hand-over is not a job")
    stdin = job.pop("stdin", None)
    return job, stdin if isinstance(stdin, bytes) else None


def _hand_over(job: dict[str, Any], stdin: bytes | None) -> bytes:
    """What ``read_job`` reads: the launcher and the supervisor always come from the same Python."""
    return marshal.dumps({**job, "stdin": stdin})


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m animus.procs._supervisor <rundir>", file=sys.stderr)
        return 2
    run_dir = os.path.realpath(argv[1])
    chunks = []
    while chunk := os.read(0, 1 << 20):
        chunks.append(chunk)
    log_fd = os.open(os.path.join(run_dir, rd._SUPERVISOR_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        job, stdin = _read_job(b"".join(chunks))
    except ValueError as exc:
        os.dup2(log_fd, 2)
        _log("ERROR", "unreadable hand-over from the launcher", error=repr(exc))
        rd._write_json_first(
            os.path.join(run_dir, rd._EXIT),
            rd._exit_record(
                "spawn_failed",
                exit_code=None,
                signal=None,
                duration_secs=None,
                run_dir=run_dir,
                error="the launcher died while handing the run over",
            ),
        )
        return 1
    child = os.fork()
    if child:
        os.write(1, f"{child}\n".encode())
        # the launcher waits for this exit: skip interpreter shutdown
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(devnull)
    os.close(log_fd)
    return _Supervisor(run_dir, job, stdin).run()


if __name__ == "__main__":
    sys.exit(_main(sys.argv))

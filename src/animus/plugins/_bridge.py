"""The provider bridge: one agent run of a ``plugin:<name>`` agent, run by procs' supervisor like any agent CLI.

``python -m animus.plugins._bridge --plugin NAME --state-dir DIR`` reads the job (prompt, session,
cwd …) as JSON on stdin, starts the plugin in its own process group (so procs' kill-tree takes
both), asks ``agent/status`` for this run id first (the plugin may already know the run: it is never
started twice), then calls ``agent/run`` or ``agent/resume`` with the run id as idempotency key.
Every ``agent/event`` notification is printed as one normalized event line; the answer ends the
output with a ``result`` event. Exit 0 when the plugin completed the run, 1 when it did not, 2 when
the plugin could not be used, 143 when stopped (``agent/cancel`` is sent first).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from animus.config.project import main_worktree_of
from animus.domain.errors import AnimusError
from animus.plugins._host import PluginHost

_TERMINAL = ("completed", "failed", "cancelled")
_STATUS_TIMEOUT_SECS = 30.0
_CANCEL_TIMEOUT_SECS = 5.0
_RUN_ID_MARKER = "ANIMUS_RUN_ID"
_RUN_DIR_MARKER = "ANIMUS_RUN_DIR"


class _Stopped(BaseException):
    """SIGTERM from the supervisor (stop, timeout): cancel the plugin's run and end."""


class _Output:
    """The run's stdout: one JSON event a line, written whole even when the reader thread and main both write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def emit(self, kind: str, **data: Any) -> None:
        line = json.dumps({"kind": kind, **data}, ensure_ascii=False, default=str)
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def event(self, event: Any) -> None:
        if isinstance(event, dict) and isinstance(event.get("kind"), str):
            self.emit(**{str(k): v for k, v in event.items()})


def _job() -> dict[str, Any]:
    data = json.loads(sys.stdin.read() or "{}")
    if not isinstance(data, dict):
        raise ValueError("the job on stdin is not a JSON object")
    return data


def _params(run_id: str, job: dict[str, Any]) -> dict[str, Any]:
    params = {
        "run_id": run_id,
        "idempotency_key": run_id,
        "prompt": job.get("prompt", ""),
        "system_prompt": job.get("system_prompt"),
        "model": job.get("model"),
        "cwd": job.get("cwd") or os.getcwd(),
        "session_id": job.get("session_id"),
        "read_only": bool(job.get("read_only")),
        "timeout_secs": job.get("timeout_secs"),
        "extra_args": job.get("extra_args") or [],
    }
    return params


def _finish(out: _Output, result: Any) -> int:
    """Print the plugin's answer as events; the exit code."""
    if not isinstance(result, dict):
        out.emit("error", message=f"the plugin answered {result!r}, not a result object", fatal=True)
        return 1
    status = str(result.get("status") or "failed")
    if result.get("session_id"):
        out.emit("session", id=str(result["session_id"]), model=result.get("model"))
    usage = result.get("usage")
    if isinstance(usage, dict):
        out.emit(
            "usage",
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cost_usd=usage.get("cost_usd"),
            scope="total",
        )
    decision = result.get("decision")
    if isinstance(decision, dict):
        out.emit("text", text=json.dumps({"kind": "phase_decision", **decision}))
    ok = status == "completed"
    out.emit("result", ok=ok, reason=str(result.get("reason") or status), text=result.get("text"))
    return 0 if ok else 1


def _run(host: PluginHost, name: str, run_id: str, job: dict[str, Any], out: _Output) -> int:
    client = host.client(name)
    assert client.info is not None
    if client.info.plugin_kind != "provider":
        out.emit("error", message=f"plugin {name} is a {client.info.plugin_kind!r} plugin, not a provider", fatal=True)
        return 2

    def on_event(method: str, params: Any) -> None:
        if isinstance(params, dict) and params.get("run_id") in (None, run_id):
            out.event(params.get("event"))

    host.subscribe(name, "agent/event", on_event)
    params = _params(run_id, job)
    if client.supports("agent/status"):
        known = client.call("agent/status", {"run_id": run_id}, timeout=_STATUS_TIMEOUT_SECS)
        status = known.get("status") if isinstance(known, dict) else None
        if status in _TERMINAL:  # the plugin finished this run already (its bridge was lost): no second start
            return _finish(out, known.get("result") or known)
        # "running": agent/run on a known run id re-attaches to it (the protocol's idempotency rule)
    method = "agent/resume" if job.get("resume") and job.get("session_id") else "agent/run"
    return _finish(out, client.call(method, params, timeout=None))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="animus-plugin-bridge")
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--run-id", default=None)
    args = parser.parse_args(argv)
    out = _Output()
    run_id = args.run_id or os.environ.get(_RUN_ID_MARKER) or ""
    if not run_id:
        out.emit("error", message="no run id: the bridge runs under procs' supervisor (ANIMUS_RUN_ID)", fatal=True)
        return 2
    try:
        job = _job()
    except ValueError as exc:
        out.emit("error", message=f"unreadable job: {exc}", fatal=True)
        return 2
    cwd = Path(job.get("cwd") or os.getcwd())
    project_root = main_worktree_of(cwd) or cwd
    extra = {name: os.environ[name] for name in job.get("env_names") or [] if name in os.environ}
    for marker in (_RUN_ID_MARKER, _RUN_DIR_MARKER):  # procs finds a run's processes by these
        if marker in os.environ:
            extra[marker] = os.environ[marker]
    host = PluginHost(project_root, Path(args.state_dir), extra_env=extra, own_group=False)

    def on_term(signum: int, frame: object) -> None:
        raise _Stopped()

    signal.signal(signal.SIGTERM, on_term)
    try:
        return _run(host, args.plugin, run_id, job, out)
    except _Stopped:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            host.call(args.plugin, "agent/cancel", {"run_id": run_id}, timeout=_CANCEL_TIMEOUT_SECS)
        except AnimusError:
            pass
        out.emit("error", message="stopped: the run was cancelled", fatal=True)
        return 143
    except AnimusError as exc:
        out.emit("error", message=exc.message + (f" ({exc.hint})" if exc.hint else ""), fatal=True)
        return 1
    finally:
        host.close()


if __name__ == "__main__":
    sys.exit(_main())

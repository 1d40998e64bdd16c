"""The run directory format: file names, atomic JSON files and timestamps (stdlib only: the supervisor imports it)."""

from __future__ import annotations

import os
import time

from animus.procs._atomic import write_atomic

# typing, json and datetime cost the supervisor milliseconds on every launch: neither is imported at run time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SPEC = "spec.json"
_PID = "pid.json"
_EXIT = "exit.json"
_STDOUT = "stdout.log"
_STDERR = "stderr.log"
_HEARTBEAT = "heartbeat"
_STOP = "stop"
_SUPERVISOR_LOG = "supervisor.log"

#: environment markers the supervisor sets on the agent; every process of a run inherits them
_MARKER_RUN_ID = "ANIMUS_RUN_ID"
_MARKER_RUN_DIR = "ANIMUS_RUN_DIR"

_EXIT_REASONS = ("exited", "timeout", "idle_timeout", "stopped", "supervisor_lost", "spawn_failed")

#: a run directory without pid.json older than this is judged never started
_START_DEADLINE_SECS = 60.0
#: ... and sooner once its launcher is dead: by then a supervisor it started has written pid.json
_ORPHANED_START_SECS = 10.0


def _now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds, e.g. ``2025-01-31T12:00:00.123456+00:00``."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}+00:00"


def _parse_iso(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 timestamp written by ``_now_iso``, None if unreadable."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return None


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The object stored in ``path``, or None when it is missing or not a JSON object."""
    import json

    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


_ESCAPES = {**{i: f"\\u{i:04x}" for i in range(32)}, ord('"'): '\\"', ord("\\"): "\\\\"}


def _dumps(value: Any, indent: str = "") -> str:
    """JSON text of plain data (dict, list, str, int, float, bool, None), keys sorted, one item a line."""
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    inner = indent + " "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_dumps(str(k))}: {_dumps(v, inner)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + "\n" + indent + "]"
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _encoded(data: dict[str, Any]) -> bytes:
    return (_dumps(data) + "\n").encode("utf-8", "backslashreplace")


def _write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any], *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` so a reader sees either the old file or the whole new one.

    ``durable`` also survives a power cut (fsync); a crashed process cannot leave half a file either way.
    """
    write_atomic(path, _encoded(data), mode=0o600, durable=durable)


def _write_json_first(path: str | os.PathLike[str], data: dict[str, Any]) -> bool:
    """Create ``path`` durably with ``data`` unless it exists; True when this call wrote it (first writer wins)."""
    return write_atomic(path, _encoded(data), mode=0o600, durable=True, first_wins=True)


def _file_size(path: str | os.PathLike[str]) -> int:
    """Size of ``path`` in bytes, 0 when it does not exist."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _exit_record(
    reason: str,
    *,
    exit_code: int | None,
    signal: int | None,
    duration_secs: float | None,
    run_dir: str,
    error: str | None = None,
) -> dict[str, Any]:
    """The exit.json object for a run that ended for ``reason``."""
    record: dict[str, Any] = {
        "exit_code": exit_code,
        "signal": signal,
        "ended_at": _now_iso(),
        "reason": reason,
        "duration_secs": None if duration_secs is None else round(duration_secs, 3),
        "stdout_bytes": _file_size(os.path.join(run_dir, _STDOUT)),
        "stderr_bytes": _file_size(os.path.join(run_dir, _STDERR)),
    }
    if error:
        record["error"] = error
    return record

"""Typed views of the run directory files: ``ExitRecord`` (exit.json), ``PidInfo`` (pid.json), run states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RunStatus = Literal["running", "finished", "lost"]
ExitReason = Literal["exited", "timeout", "idle_timeout", "stopped", "supervisor_lost", "spawn_failed"]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class ExitRecord:
    """How a run ended (exit.json). ``exit_code`` and ``signal`` are None when unknown."""

    reason: ExitReason
    exit_code: int | None
    signal: int | None
    ended_at: str
    duration_secs: float | None
    stdout_bytes: int
    stderr_bytes: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the agent exited by itself with code 0."""
        return self.reason == "exited" and self.exit_code == 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExitRecord:
        reason = data.get("reason")
        duration = data.get("duration_secs")
        return cls(
            reason=reason if isinstance(reason, str) else "supervisor_lost",  # type: ignore[arg-type]
            exit_code=_int_or_none(data.get("exit_code")),
            signal=_int_or_none(data.get("signal")),
            ended_at=str(data.get("ended_at", "")),
            duration_secs=float(duration) if isinstance(duration, (int, float)) else None,
            stdout_bytes=_int_or_none(data.get("stdout_bytes")) or 0,
            stderr_bytes=_int_or_none(data.get("stderr_bytes")) or 0,
            error=data.get("error") if isinstance(data.get("error"), str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reason": self.reason,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "ended_at": self.ended_at,
            "duration_secs": self.duration_secs,
            "stdout_bytes": self.stdout_bytes,
            "stderr_bytes": self.stderr_bytes,
        }
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class PidInfo:
    """Who runs a run (pid.json); the start times guard every pid against reuse."""

    supervisor_pid: int
    supervisor_start_time: int | None
    agent_pid: int
    agent_pgid: int
    agent_start_time: int | None
    started_at: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PidInfo | None:
        supervisor_pid, agent_pid = _int_or_none(data.get("supervisor_pid")), _int_or_none(data.get("agent_pid"))
        if not supervisor_pid or not agent_pid:
            return None
        return cls(
            supervisor_pid=supervisor_pid,
            supervisor_start_time=_int_or_none(data.get("supervisor_start_time")),
            agent_pid=agent_pid,
            agent_pgid=_int_or_none(data.get("agent_pgid")) or agent_pid,
            agent_start_time=_int_or_none(data.get("agent_start_time")),
            started_at=str(data.get("started_at", "")),
        )


@dataclass(frozen=True)
class RunState:
    """A judgement of a run at one instant.

    ``running``: the supervisor or the agent is alive (``pid`` is None while the supervisor is still
    starting; ``supervisor_alive`` False when only the agent is left). ``finished``: exit.json exists.
    ``lost``: nobody is left and the outcome is unknown (exit.json says ``supervisor_lost``).
    """

    run_id: str
    status: RunStatus
    exit: ExitRecord | None
    pid: PidInfo | None
    supervisor_alive: bool
    agent_alive: bool


@dataclass(frozen=True)
class RunSummary:
    """One line of ``list_runs``."""

    run_id: str
    status: RunStatus
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    exit_reason: ExitReason | None = None

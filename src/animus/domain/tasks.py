"""Task: the unit of work, its enums, and the status transition table (data, used by docs and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from animus.domain.errors import Conflict, InvalidInput

TASK_ID_RE: Final = re.compile(r"^TASK-([1-9][0-9]*)$")


class TaskType(StrEnum):
    FEATURE = "feature"
    BUGFIX = "bugfix"
    REFACTOR = "refactor"
    DOCS = "docs"
    TEST = "test"
    CHORE = "chore"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical … 3 for low: sort ascending to get the most urgent first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK: Final[dict[Priority, int]] = {
    Priority.CRITICAL: 0,
    Priority.HIGH: 1,
    Priority.MEDIUM: 2,
    Priority.LOW: 3,
}


class TaskStatus(StrEnum):
    BACKLOG = "backlog"  # captured, not yet ready to be worked on
    READY = "ready"  # may be picked up (by `task next`, the queue, the daemon)
    IN_PROGRESS = "in_progress"  # a workflow run owns it
    BLOCKED = "blocked"  # needs a human: failed, escalated, or blocked by hand
    DONE = "done"  # terminal: the work landed
    CANCELLED = "cancelled"  # terminal: abandoned

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.DONE, TaskStatus.CANCELLED)


_S = TaskStatus
# Allowed status changes. A change to the same status is a no-op, not a transition.
# Leaving a terminal status is only "reopen" (→ backlog). `--force` skips this table.
TRANSITIONS: Final[dict[TaskStatus, frozenset[TaskStatus]]] = {
    _S.BACKLOG: frozenset({_S.READY, _S.IN_PROGRESS, _S.BLOCKED, _S.CANCELLED}),
    _S.READY: frozenset({_S.BACKLOG, _S.IN_PROGRESS, _S.BLOCKED, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.READY, _S.BLOCKED, _S.DONE, _S.CANCELLED}),
    _S.BLOCKED: frozenset({_S.BACKLOG, _S.READY, _S.IN_PROGRESS, _S.CANCELLED}),
    _S.DONE: frozenset({_S.BACKLOG}),
    _S.CANCELLED: frozenset({_S.BACKLOG}),
}


def check_transition(current: TaskStatus, target: TaskStatus, *, force: bool = False) -> None:
    """Raise ``Conflict`` unless ``current → target`` is allowed (or forced, or a no-op)."""
    if force or current == target or target in TRANSITIONS[current]:
        return
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
    raise Conflict(
        f"cannot move a task from {current.value} to {target.value} (allowed from {current.value}: {allowed})",
        details={"from": current.value, "to": target.value, "allowed": sorted(s.value for s in TRANSITIONS[current])},
        hint="pass --force to override the transition table",
    )


def parse_enum(enum_cls: type[Any], value: str, what: str) -> Any:
    """Parse ``value`` into ``enum_cls`` or raise ``InvalidInput`` listing the allowed values."""
    try:
        return enum_cls(value.strip().lower().replace("-", "_") if enum_cls is TaskStatus else value.strip().lower())
    except ValueError:
        allowed = [m.value for m in enum_cls]
        raise InvalidInput(
            f"invalid {what} {value!r}; allowed: {', '.join(allowed)}", details={"allowed": allowed}
        ) from None


def parse_task_id(value: str) -> str:
    """Normalise ``task-7`` / ``7`` / ``TASK-7`` to ``TASK-7``; anything else is invalid input."""
    text = value.strip()
    if text.isdigit() and int(text) > 0:
        return f"TASK-{int(text)}"
    upper = text.upper()
    if TASK_ID_RE.match(upper):
        return upper
    raise InvalidInput(f"invalid task id {value!r}; expected TASK-<n>, e.g. TASK-12")


@dataclass(frozen=True)
class Task:
    """A unit of work. ``dependencies`` are ids of tasks that must be ``done`` before this one starts."""

    id: str
    title: str
    description: str = ""
    type: TaskType = TaskType.FEATURE
    priority: Priority = Priority.MEDIUM
    status: TaskStatus = TaskStatus.BACKLOG
    dependencies: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    workflow: str | None = None
    blocked_reason: str | None = None
    created_at: str = ""
    updated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def number(self) -> int:
        match = TASK_ID_RE.match(self.id)
        assert match, f"malformed task id {self.id!r}"
        return int(match.group(1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "type": self.type.value,
            "priority": self.priority.value,
            "status": self.status.value,
            "dependencies": list(self.dependencies),
            "labels": list(self.labels),
            "workflow": self.workflow,
            "blocked_reason": self.blocked_reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

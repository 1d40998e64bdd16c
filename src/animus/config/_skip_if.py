"""The ``skip_if`` grammar: ``<field> == <value>`` or ``<field> != <value>`` over a task's fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SKIP_FIELDS = ("labels", "priority", "type")
_TASK_TYPES = ("feature", "bugfix", "refactor", "docs", "test", "chore")
_PRIORITIES = ("critical", "high", "medium", "low")

_EXPR = re.compile(
    r"""^\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>==|!=)\s*
        (?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^\s'"]+))\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class SkipCondition:
    """One parsed ``skip_if`` expression; ``labels`` means "the task's labels contain value"."""

    field: str
    op: str
    value: str

    def matches(self, *, type: str, priority: str, labels: Iterable[str]) -> bool:
        if self.field == "labels":
            hit = self.value in set(labels)
        else:
            hit = (type if self.field == "type" else priority) == self.value
        return hit if self.op == "==" else not hit

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"


def parse_skip_if(text: str) -> SkipCondition:
    """Parse one expression; ValueError names what is wrong (unknown fields never silently mismatch)."""
    match = _EXPR.match(text)
    if match is None:
        raise ValueError(
            f"cannot parse skip_if expression {text!r}: expected '<field> == <value>' or '<field> != <value>' "
            f"with field one of {', '.join(_SKIP_FIELDS)}"
        )
    name = match["field"]
    field = name[len("task.") :] if name.startswith("task.") else name
    if field not in _SKIP_FIELDS:
        raise ValueError(f"unknown skip_if field {name!r} (allowed: {', '.join(_SKIP_FIELDS)}; 'task.' prefix optional)")
    value = next(v for v in (match["sq"], match["dq"], match["bare"]) if v is not None)
    allowed = {"type": _TASK_TYPES, "priority": _PRIORITIES}.get(field)
    if allowed is not None and value not in allowed:
        raise ValueError(f"skip_if {field} value {value!r} is never a task {field} (allowed: {', '.join(allowed)})")
    return SkipCondition(field=field, op=match["op"], value=value)

"""Spend: what agent phases cost, summed by task, agent, model or day (``animus cost``, the dashboard, status)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from animus.domain.errors import InvalidInput
from animus.domain.runs import PhaseSpend
from animus.store import Store

CostGrouping = Literal["task", "agent", "model", "day"]
COST_GROUPINGS: tuple[CostGrouping, ...] = ("task", "agent", "model", "day")


@dataclass(frozen=True)
class CostLine:
    """One group's spend. ``cost_usd`` is None (unknown) when any of its phases ran on a model without a price;
    ``priced_usd`` is then the part that could be priced, a floor of the real spend."""

    key: str
    runs: int
    phases: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    priced_usd: float
    unpriced_phases: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CostReport:
    """Spend grouped one way, and its total."""

    by: CostGrouping
    since: str | None
    lines: tuple[CostLine, ...]
    total: CostLine

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "since": self.since, "lines": [line.to_dict() for line in self.lines],
                "total": self.total.to_dict()}


def _key(row: PhaseSpend, by: CostGrouping) -> str:
    if by == "task":
        return row.task_id
    if by == "agent":
        return row.agent or "(unrecorded)"
    if by == "model":
        return row.model or "(unreported)"
    return row.started_at[:10]


def _line(key: str, rows: Iterable[PhaseSpend]) -> CostLine:
    items = list(rows)
    priced = round(sum(r.cost_usd for r in items), 6)
    unpriced = sum(1 for r in items if not r.cost_known)
    return CostLine(key=key, runs=len({r.run_id for r in items}), phases=len(items),
                    input_tokens=sum(r.input_tokens for r in items), output_tokens=sum(r.output_tokens for r in items),
                    cost_usd=None if unpriced else priced, priced_usd=priced, unpriced_phases=unpriced)


def cost_report(store: Store, *, by: str = "task", since: str | None = None, task_id: str | None = None,
                run_id: str | None = None) -> CostReport:
    """Spend of every ended agent phase attempt (successful and failed alike) since ``since`` (YYYY-MM-DD, UTC)."""
    if by not in COST_GROUPINGS:
        raise InvalidInput(f"cannot group spend by {by!r} (choose one of {', '.join(COST_GROUPINGS)})")
    grouping = by
    rows = store.spend(since=since, task_id=task_id, run_id=run_id)
    groups: dict[str, list[PhaseSpend]] = {}
    for row in rows:
        groups.setdefault(_key(row, grouping), []).append(row)
    lines = tuple(_line(key, groups[key]) for key in sorted(groups))
    return CostReport(by=grouping, since=since, lines=lines, total=_line("total", rows))


def run_cost(store: Store, run_id: str) -> CostLine:
    """One run's spend (``workflow get``)."""
    return _line(run_id, store.spend(run_id=run_id))

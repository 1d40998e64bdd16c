"""The run status machine: the transition table as data, checked by the engine, shown in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.domain.errors import Conflict
from animus.domain.runs import (
    ACTIVE_RUN_STATUSES,
    RESUMABLE_RUN_STATUSES,
    RUN_TRANSITIONS,
    RunStatus,
    check_run_transition,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows.md"


@pytest.mark.parametrize("current", list(RunStatus))
@pytest.mark.parametrize("target", list(RunStatus))
def test_every_pair_follows_the_table(current: RunStatus, target: RunStatus) -> None:
    if current == target or target in RUN_TRANSITIONS[current]:
        check_run_transition(current, target)
    else:
        with pytest.raises(Conflict) as info:
            check_run_transition(current, target)
        assert info.value.details["from"] == current.value and info.value.details["to"] == target.value


def test_terminal_runs_only_move_by_resume_and_a_completed_run_never_moves() -> None:
    for status in RunStatus:
        if status.is_terminal:
            assert RUN_TRANSITIONS[status] == (frozenset({RunStatus.PENDING}) if status in RESUMABLE_RUN_STATUSES else frozenset())
    assert RUN_TRANSITIONS[RunStatus.COMPLETED] == frozenset()


def test_every_active_run_can_be_cancelled_or_failed_by_an_executor_error() -> None:
    for status in ACTIVE_RUN_STATUSES:
        assert {RunStatus.CANCELLED, RunStatus.FAILED} <= RUN_TRANSITIONS[status]


def test_the_docs_table_is_the_data() -> None:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in {s.value for s in RunStatus} and len(cells) == len(RunStatus) + 1:
            rows[RunStatus(cells[0])] = {RunStatus(col.value) for col, cell in zip(RunStatus, cells[1:], strict=True) if cell == "✓"}
    assert rows == {status: set(RUN_TRANSITIONS[status]) for status in RunStatus}

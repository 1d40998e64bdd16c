from __future__ import annotations

import itertools

import pytest

from animus.domain.errors import Conflict, InvalidInput
from animus.domain.tasks import TRANSITIONS, Priority, TaskStatus, TaskType, check_transition, parse_enum, parse_task_id


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_status_pair_follows_the_transition_table(current: TaskStatus, target: TaskStatus) -> None:
    allowed = current == target or target in TRANSITIONS[current]
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(Conflict):
            check_transition(current, target)
    check_transition(current, target, force=True)  # --force always passes


def test_terminal_states_only_reopen_to_backlog() -> None:
    for status in TaskStatus:
        if status.is_terminal:
            assert TRANSITIONS[status] == frozenset({TaskStatus.BACKLOG})
    assert TaskStatus.DONE in TRANSITIONS[TaskStatus.IN_PROGRESS]
    assert TaskStatus.DONE not in TRANSITIONS[TaskStatus.READY]


def test_task_ids_normalise_or_fail() -> None:
    assert parse_task_id("task-7") == "TASK-7"
    assert parse_task_id("7") == "TASK-7"
    for bad in ("TASK-0", "TASK-", "7a", "../TASK-1", "TASK-1/..", ""):
        with pytest.raises(InvalidInput):
            parse_task_id(bad)


def test_invalid_enum_values_list_the_allowed_ones() -> None:
    assert parse_enum(Priority, "HIGH", "priority") is Priority.HIGH
    with pytest.raises(InvalidInput) as info:
        parse_enum(TaskType, "epic", "type")
    assert "feature, bugfix, refactor, docs, test, chore" in info.value.message
    assert info.value.details["allowed"] == [t.value for t in TaskType]
    assert parse_enum(TaskStatus, "in-progress", "status") is TaskStatus.IN_PROGRESS

"""Schema details: skip_if grammar, enum values shared with the domain, JSON Schema strictness."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from animus.config import ScheduledTask, SkipCondition, config_json_schema, parse_skip_if
from animus.domain.tasks import Priority, TaskType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type == docs", SkipCondition("type", "==", "docs")),
        ("task.type == 'docs'", SkipCondition("type", "==", "docs")),
        ('priority != "low"', SkipCondition("priority", "!=", "low")),
        ("labels == needs-ui", SkipCondition("labels", "==", "needs-ui")),
    ],
)
def test_skip_if_parses_both_forms(text: str, expected: SkipCondition) -> None:
    assert parse_skip_if(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("task_type == docs", "unknown skip_if field 'task_type'"),
        ("task.kind == docs", "unknown skip_if field 'task.kind'"),
        ("type = docs", "cannot parse"),
        ("type == docs and priority == low", "cannot parse"),
        ("priority == urgent", "never a task priority"),
    ],
)
def test_skip_if_rejects_what_would_silently_never_match(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_skip_if(text)


def test_skip_condition_matching() -> None:
    task: dict[str, Any] = {"type": "docs", "priority": "low", "labels": ["ui", "small"]}
    assert parse_skip_if("type == docs").matches(**task)
    assert not parse_skip_if("type != docs").matches(**task)
    assert parse_skip_if("labels == ui").matches(**task)
    assert parse_skip_if("labels != backend").matches(**task)
    assert not parse_skip_if("priority == high").matches(**task)


def test_task_enums_match_the_domain() -> None:
    fields = ScheduledTask.model_fields
    assert list(get_args(fields["type"].annotation)) == [t.value for t in TaskType]
    assert list(get_args(fields["priority"].annotation)) == [p.value for p in Priority]


def test_json_schema_forbids_unknown_keys_in_every_object() -> None:
    schema = config_json_schema()
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        if obj.get("type") == "object" and "properties" in obj:
            assert obj.get("additionalProperties") is False, obj.get("title")
    assert set(schema["properties"]) == {
        "agents",
        "budgets",
        "daemon",
        "default_workflow",
        "github",
        "landing",
        "mcp_servers",
        "notifications",
        "phases",
        "pricing",
        "project",
        "schedules",
        "sources",
        "triggers",
        "workflows",
    }

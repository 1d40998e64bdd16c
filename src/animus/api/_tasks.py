"""Task endpoints: list with filters, get, create, update, change status."""

from __future__ import annotations

from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import Call, Endpoint, Param
from animus.api._input import (
    b_bool,
    b_enum,
    b_str,
    b_str_list,
    no_unknown,
    q_enums,
    q_int,
    task_id,
)
from animus.domain.errors import InvalidInput
from animus.domain.tasks import Priority, TaskStatus, TaskType

_STATUS = {"type": "string", "enum": [s.value for s in TaskStatus]}
_TYPE = {"type": "string", "enum": [t.value for t in TaskType]}
_PRIORITY = {"type": "string", "enum": [p.value for p in Priority]}
_STRINGS = {"type": "array", "items": {"type": "string"}}

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "type": _TYPE, "priority": _PRIORITY, "status": _STATUS, "dependencies": _STRINGS, "labels": _STRINGS,
        "workflow": {"type": "string", "nullable": True}, "blocked_reason": {"type": "string", "nullable": True},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
    },
}
CREATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string"}, "description": {"type": "string"}, "type": _TYPE, "priority": _PRIORITY,
        "status": _STATUS, "dependencies": _STRINGS, "labels": _STRINGS, "workflow": {"type": "string"},
    },
}
UPDATE_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string"}, "description": {"type": "string"}, "type": _TYPE, "priority": _PRIORITY,
        "workflow": {"type": "string", "nullable": True}, "add_labels": _STRINGS, "remove_labels": _STRINGS,
    },
}
STATUS_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {"status": _STATUS, "force": {"type": "boolean"}, "reason": {"type": "string"}},
}


def list_tasks(call: Call) -> list[dict[str, Any]]:
    from animus.store import SORT_KEYS, TaskQuery

    q = call.query_lists
    sort = call.query.get("sort", "priority")
    if sort not in SORT_KEYS:
        raise InvalidInput(f"invalid sort key {sort!r}; allowed: {', '.join(SORT_KEYS)}")
    query = TaskQuery(
        statuses=q_enums(q.get("status", []), TaskStatus, "status"),
        types=q_enums(q.get("type", []), TaskType, "type"),
        priorities=q_enums(q.get("priority", []), Priority, "priority"),
        labels=tuple(q.get("label", [])),
        text=call.query.get("q") or None,
        sort=sort,
        limit=q_int(call.query, "limit", 500, low=0, high=10_000),
        offset=q_int(call.query, "offset", 0),
    )
    return [present.task(t) for t in call.store().list_tasks(query)]


def get_task(call: Call) -> dict[str, Any]:
    return present.task(call.store().get_task(task_id(call.path["task_id"])))


def create_task(call: Call) -> dict[str, Any]:
    from animus.store import NewTask

    body = call.body
    no_unknown(body, set(CREATE_BODY["properties"]))
    new = NewTask(
        title=b_str(body, "title", required=True) or "",
        description=b_str(body, "description", default="") or "",
        type=b_enum(body, "type", TaskType) or TaskType.FEATURE,
        priority=b_enum(body, "priority", Priority) or Priority.MEDIUM,
        status=b_enum(body, "status", TaskStatus) or TaskStatus.BACKLOG,
        dependencies=tuple(task_id(d) for d in b_str_list(body, "dependencies")),
        labels=b_str_list(body, "labels"),
        workflow=b_str(body, "workflow") or None,
    )
    return present.task(services.create_task(call.store(), new))


def update_task(call: Call) -> dict[str, Any]:
    from animus.store import TaskPatch

    body = call.body
    no_unknown(body, set(UPDATE_BODY["properties"]))
    clear = "workflow" in body and body["workflow"] is None
    patch = TaskPatch(
        title=b_str(body, "title"),
        description=b_str(body, "description"),
        type=b_enum(body, "type", TaskType),
        priority=b_enum(body, "priority", Priority),
        workflow=None if clear else b_str(body, "workflow"),
        clear_workflow=clear,
        add_labels=b_str_list(body, "add_labels"),
        remove_labels=b_str_list(body, "remove_labels"),
    )
    return present.task(services.update_task(call.store(), task_id(call.path["task_id"]), patch))


def set_task_status(call: Call) -> dict[str, Any]:
    body = call.body
    no_unknown(body, set(STATUS_BODY["properties"]))
    status = b_enum(body, "status", TaskStatus)
    if status is None:
        raise InvalidInput("field 'status' is required")
    task = call.store().set_status(
        task_id(call.path["task_id"]), status, force=b_bool(body, "force"), reason=b_str(body, "reason")
    )
    return present.task(task)


_TASK_LIST = {"type": "array", "items": TASK_SCHEMA}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/tasks", list_tasks, "List tasks (filters combine; repeat a filter for OR)", "tasks",
             query=(Param("status", _STATUS, repeated=True), Param("type", _TYPE, repeated=True),
                    Param("priority", _PRIORITY, repeated=True), Param("label", {"type": "string"}, repeated=True),
                    Param("q", {"type": "string"}, "text in title or description"),
                    Param("sort", {"type": "string", "enum": ["priority", "id", "created", "updated", "title", "status"]}),
                    Param("limit", {"type": "integer", "minimum": 0, "maximum": 10000}),
                    Param("offset", {"type": "integer", "minimum": 0, "maximum": 1000000})),
             response=_TASK_LIST),
    Endpoint("POST", "/api/v1/tasks", create_task, "Create a task", "tasks", body=CREATE_BODY, status=201,
             response=TASK_SCHEMA),
    Endpoint("GET", "/api/v1/tasks/{task_id}", get_task, "Get a task", "tasks", response=TASK_SCHEMA),
    Endpoint("PATCH", "/api/v1/tasks/{task_id}", update_task, "Update a task's fields", "tasks", body=UPDATE_BODY,
             response=TASK_SCHEMA),
    Endpoint("POST", "/api/v1/tasks/{task_id}/status", set_task_status, "Change a task's status", "tasks",
             body=STATUS_BODY, response=TASK_SCHEMA),
)

"""Task endpoints: list with filters, get, create, update, change status."""

from __future__ import annotations

from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import Endpoint, _Call, _Param
from animus.api._input import (
    _b_bool,
    _b_enum,
    _b_str,
    _b_str_list,
    _no_unknown,
    _q_enums,
    _q_int,
    _q_text,
    _task_id,
)
from animus.domain.errors import InvalidInput
from animus.domain.tasks import Priority, TaskStatus, TaskType

_MAX_QUERY_CHARS = 1000  # far above any real search, far below SQLite's 50,000-byte LIKE pattern limit
_STATUS = {"type": "string", "enum": [s.value for s in TaskStatus]}
_TYPE = {"type": "string", "enum": [t.value for t in TaskType]}
_PRIORITY = {"type": "string", "enum": [p.value for p in Priority]}
_STRINGS = {"type": "array", "items": {"type": "string"}}

_TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "type": _TYPE, "priority": _PRIORITY, "status": _STATUS, "dependencies": _STRINGS, "labels": _STRINGS,
        "workflow": {"type": "string", "nullable": True}, "blocked_reason": {"type": "string", "nullable": True},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
    },
}
_EXTERNAL = {
    "type": "object", "nullable": True, "description": "the upstream item this task came from (a task source), or null",
    "properties": {"source": {"type": "string"}, "external_id": {"type": "string"}, "key": {"type": "string"},
                   "url": {"type": "string"}, "upstream_open": {"type": "boolean"}},
}
_TASK_WITH_LINK = {**_TASK_SCHEMA, "properties": {**_TASK_SCHEMA["properties"], "external": _EXTERNAL}}
_CREATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string"}, "description": {"type": "string"}, "type": _TYPE, "priority": _PRIORITY,
        "status": _STATUS, "dependencies": _STRINGS, "labels": _STRINGS, "workflow": {"type": "string"},
    },
}
_UPDATE_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string"}, "description": {"type": "string"}, "type": _TYPE, "priority": _PRIORITY,
        "workflow": {"type": "string", "nullable": True}, "add_labels": _STRINGS, "remove_labels": _STRINGS,
    },
}
_STATUS_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {"status": _STATUS, "force": {"type": "boolean"}, "reason": {"type": "string"}},
}


def _list_tasks(call: _Call) -> list[dict[str, Any]]:
    from animus.store import SORT_KEYS, TaskQuery

    q = call.query_lists
    sort = call.query.get("sort", "priority")
    if sort not in SORT_KEYS:
        raise InvalidInput(f"invalid sort key {sort!r}; allowed: {', '.join(SORT_KEYS)}")
    query = TaskQuery(
        statuses=_q_enums(q.get("status", []), TaskStatus, "status"),
        types=_q_enums(q.get("type", []), TaskType, "type"),
        priorities=_q_enums(q.get("priority", []), Priority, "priority"),
        labels=tuple(_q_text(label, "label", max_chars=_MAX_QUERY_CHARS) or "" for label in q.get("label", [])),
        text=_q_text(call.query.get("q"), "q", max_chars=_MAX_QUERY_CHARS),
        sort=sort,
        limit=_q_int(call.query, "limit", 500, low=0, high=10_000),
        offset=_q_int(call.query, "offset", 0),
    )
    return [present._task(t) for t in call.store().list_tasks(query)]


def _get_task(call: _Call) -> dict[str, Any]:
    store = call.store()
    task_id = _task_id(call.path["task_id"])
    shown = present._task(store.get_task(task_id))
    link = store.source_item_for_task(task_id)
    shown["external"] = link.to_dict() if link is not None else None  # the issue or file it came from
    return shown


def _create_task(call: _Call) -> dict[str, Any]:
    from animus.store import NewTask

    body = call.body
    _no_unknown(body, set(_CREATE_BODY["properties"]))
    new = NewTask(
        title=_b_str(body, "title", required=True) or "",
        description=_b_str(body, "description", default="") or "",
        type=_b_enum(body, "type", TaskType) or TaskType.FEATURE,
        priority=_b_enum(body, "priority", Priority) or Priority.MEDIUM,
        status=_b_enum(body, "status", TaskStatus) or TaskStatus.BACKLOG,
        dependencies=tuple(_task_id(d) for d in _b_str_list(body, "dependencies")),
        labels=_b_str_list(body, "labels"),
        workflow=_b_str(body, "workflow") or None,
    )
    return present._task(services.create_task(call.store(), new))


def _update_task(call: _Call) -> dict[str, Any]:
    from animus.store import TaskPatch

    body = call.body
    _no_unknown(body, set(_UPDATE_BODY["properties"]))
    clear = "workflow" in body and body["workflow"] is None
    patch = TaskPatch(
        title=_b_str(body, "title"),
        description=_b_str(body, "description"),
        type=_b_enum(body, "type", TaskType),
        priority=_b_enum(body, "priority", Priority),
        workflow=None if clear else _b_str(body, "workflow"),
        clear_workflow=clear,
        add_labels=_b_str_list(body, "add_labels"),
        remove_labels=_b_str_list(body, "remove_labels"),
    )
    return present._task(services.update_task(call.store(), _task_id(call.path["task_id"]), patch))


def _set_task_status(call: _Call) -> dict[str, Any]:
    body = call.body
    _no_unknown(body, set(_STATUS_BODY["properties"]))
    status = _b_enum(body, "status", TaskStatus)
    if status is None:
        raise InvalidInput("field 'status' is required")
    task = call.store().set_status(
        _task_id(call.path["task_id"]), status, force=_b_bool(body, "force"), reason=_b_str(body, "reason")
    )
    return present._task(task)


_TASK_LIST = {"type": "array", "items": _TASK_SCHEMA}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/tasks", _list_tasks, "List tasks (filters combine; repeat a filter for OR)", "tasks",
             query=(_Param("status", _STATUS, repeated=True), _Param("type", _TYPE, repeated=True),
                    _Param("priority", _PRIORITY, repeated=True), _Param("label", {"type": "string", "maxLength": _MAX_QUERY_CHARS}, repeated=True),
                    _Param("q", {"type": "string", "maxLength": _MAX_QUERY_CHARS}, "text in title or description"),
                    _Param("sort", {"type": "string", "enum": ["priority", "id", "created", "updated", "title", "status"]}),
                    _Param("limit", {"type": "integer", "minimum": 0, "maximum": 10000}),
                    _Param("offset", {"type": "integer", "minimum": 0, "maximum": 1000000})),
             response=_TASK_LIST),
    Endpoint("POST", "/api/v1/tasks", _create_task, "Create a task", "tasks", body=_CREATE_BODY, status=201,
             response=_TASK_SCHEMA),
    Endpoint("GET", "/api/v1/tasks/{task_id}", _get_task, "Get a task (with the upstream item it came from)", "tasks",
             response=_TASK_WITH_LINK),
    Endpoint("PATCH", "/api/v1/tasks/{task_id}", _update_task, "Update a task's fields", "tasks", body=_UPDATE_BODY,
             response=_TASK_SCHEMA),
    Endpoint("POST", "/api/v1/tasks/{task_id}/status", _set_task_status, "Change a task's status", "tasks",
             body=_STATUS_BODY, response=_TASK_SCHEMA),
)

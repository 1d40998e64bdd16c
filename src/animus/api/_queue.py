"""Queue endpoints (list, enqueue, hold, release, drop) over the queue services; each change wakes the daemon."""

from __future__ import annotations

from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import Endpoint, _Call
from animus.api._input import _b_str, _b_str_map, _no_unknown, _task_id

_API_SOURCE = "cli"  # the queue's sources name who asked; API and dashboard users stand where CLI users do

_ENQUEUE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["task_id"],
    "additionalProperties": False,
    "properties": {
        "task_id": {"type": "string"},
        "workflow": {"type": "string"},
        "vars": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_EMPTY_BODY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def _list_queue(call: _Call) -> list[dict[str, Any]]:
    return [present._queue_entry(e) for e in services.list_queue(call.store())]


def _enqueue(call: _Call) -> dict[str, Any]:
    body = call.body
    _no_unknown(body, set(_ENQUEUE_BODY["properties"]))
    task = _task_id(_b_str(body, "task_id", required=True) or "")
    workflow = _b_str(body, "workflow") or None
    variables = _b_str_map(body, "vars")
    config = call.state.workflow_config() if workflow is not None or variables else None  # as the CLI checks
    queued = services.enqueue(call.store(), task, workflow=workflow, variables=variables, source=_API_SOURCE, config=config)
    call.state.queue_changed()
    return present._queue_entry(queued.entry)


def _hold(call: _Call) -> dict[str, Any]:
    entry = services.hold(call.store(), _task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present._queue_entry(entry)


def _release(call: _Call) -> dict[str, Any]:
    entry = services.release(call.store(), _task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present._queue_entry(entry)


def _drop(call: _Call) -> dict[str, Any]:
    dropped = services.drop_queued(call.store(), call.state.project.runs_dir, _task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present._queue_entry(dropped.entry)


_ENTRY = {"type": "object"}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/queue", _list_queue, "The queue in dispatch order", "queue",
             response={"type": "array", "items": _ENTRY}),
    Endpoint("POST", "/api/v1/queue", _enqueue, "Queue a task for the daemon (idempotent per task)", "queue",
             body=_ENQUEUE_BODY, status=201, response=_ENTRY),
    Endpoint("POST", "/api/v1/queue/{task_id}/hold", _hold, "Hold a queued task back", "queue", body=_EMPTY_BODY,
             response=_ENTRY),
    Endpoint("POST", "/api/v1/queue/{task_id}/release", _release, "Release a held task", "queue", body=_EMPTY_BODY,
             response=_ENTRY),
    Endpoint("DELETE", "/api/v1/queue/{task_id}", _drop, "Drop a task from the queue (cancels its run if dispatched)",
             "queue", response=_ENTRY),
)

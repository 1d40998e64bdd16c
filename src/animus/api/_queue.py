"""Queue endpoints (list, enqueue, hold, release, drop) over the queue services; each change wakes the daemon."""

from __future__ import annotations

from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import Call, Endpoint
from animus.api._input import b_str, b_str_map, no_unknown, task_id

API_SOURCE = "cli"  # the queue's sources name who asked; API and dashboard users stand where CLI users do

ENQUEUE_BODY: dict[str, Any] = {
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


def list_queue(call: Call) -> list[dict[str, Any]]:
    return [present.queue_entry(e) for e in services.list_queue(call.store())]


def enqueue(call: Call) -> dict[str, Any]:
    body = call.body
    no_unknown(body, set(ENQUEUE_BODY["properties"]))
    task = task_id(b_str(body, "task_id", required=True) or "")
    workflow = b_str(body, "workflow") or None
    config = call.state.workflow_config() if workflow is not None else None
    queued = services.enqueue(call.store(), task, workflow=workflow, variables=b_str_map(body, "vars"),
                              source=API_SOURCE, config=config)
    call.state.queue_changed()
    return present.queue_entry(queued.entry)


def hold(call: Call) -> dict[str, Any]:
    entry = services.hold(call.store(), task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present.queue_entry(entry)


def release(call: Call) -> dict[str, Any]:
    entry = services.release(call.store(), task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present.queue_entry(entry)


def drop(call: Call) -> dict[str, Any]:
    dropped = services.drop_queued(call.store(), call.state.project.runs_dir, task_id(call.path["task_id"]))
    call.state.queue_changed()
    return present.queue_entry(dropped.entry)


_ENTRY = {"type": "object"}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/queue", list_queue, "The queue in dispatch order", "queue",
             response={"type": "array", "items": _ENTRY}),
    Endpoint("POST", "/api/v1/queue", enqueue, "Queue a task for the daemon (idempotent per task)", "queue",
             body=ENQUEUE_BODY, status=201, response=_ENTRY),
    Endpoint("POST", "/api/v1/queue/{task_id}/hold", hold, "Hold a queued task back", "queue", body=_EMPTY_BODY,
             response=_ENTRY),
    Endpoint("POST", "/api/v1/queue/{task_id}/release", release, "Release a held task", "queue", body=_EMPTY_BODY,
             response=_ENTRY),
    Endpoint("DELETE", "/api/v1/queue/{task_id}", drop, "Drop a task from the queue (cancels its run if dispatched)",
             "queue", response=_ENTRY),
)

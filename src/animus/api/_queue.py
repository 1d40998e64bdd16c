"""Queue endpoints (list, enqueue, hold, release, drop) over one small protocol the daemon may implement.

The daemon passes its own ``QueueOps`` to ``create_app`` (so a change can wake its tick at once);
``StoreQueue`` is the default: the ``queue_entries`` rows of ``animus.store.queue`` that the daemon
dispatches from, written the way the CLI writes them (never launching DBOS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from animus.api import _present as present
from animus.api._endpoint import Call, Endpoint
from animus.api._input import b_str, b_str_map, no_unknown, task_id

if TYPE_CHECKING:
    from pathlib import Path

    from animus.store import Store

API_SOURCE = "cli"  # the queue's sources name who asked; API and dashboard users stand where CLI users do


class QueueOps(Protocol):
    """What the API, the dashboard and webhook triggers need from the daemon's queue."""

    def list(self, store: Store) -> list[dict[str, Any]]: ...

    def enqueue(
        self, store: Store, task_id: str, *, workflow: str | None, variables: dict[str, str], source: str
    ) -> dict[str, Any]: ...

    def hold(self, store: Store, task_id: str) -> dict[str, Any]: ...

    def release(self, store: Store, task_id: str) -> dict[str, Any]: ...

    def drop(self, store: Store, task_id: str) -> dict[str, Any]: ...


class StoreQueue:
    """``animus.store.queue`` rows; dropping a dispatched entry cancels its run (as `animus queue drop` does)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def list(self, store: Store) -> list[dict[str, Any]]:
        from animus.store import queue

        return [e.to_dict() for e in queue.list_entries(store.conn)]

    def enqueue(
        self, store: Store, task_id: str, *, workflow: str | None, variables: dict[str, str], source: str
    ) -> dict[str, Any]:
        from animus.store import queue

        entry, _created = queue.enqueue(store.conn, task_id, workflow=workflow, variables=variables, source=source)
        return entry.to_dict()

    def hold(self, store: Store, task_id: str) -> dict[str, Any]:
        from animus.store import queue

        return queue.set_held(store.conn, task_id, True).to_dict()

    def release(self, store: Store, task_id: str) -> dict[str, Any]:
        from animus.store import queue

        return queue.set_held(store.conn, task_id, False).to_dict()

    def drop(self, store: Store, task_id: str) -> dict[str, Any]:
        from animus.store import queue

        entry = queue.require_entry(store.conn, task_id)
        if entry.status == "dispatched" and entry.run_id:
            from animus.engine import cancel_run

            run = store.get_run(entry.run_id)
            if run.status.is_active:
                cancel_run(store, store.url, self.runs_dir, run.id)
        queue.remove_entry(store.conn, task_id, "dropped")
        return entry.to_dict()


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
    return [present.queue_entry(e) for e in call.state.queue.list(call.store())]


def enqueue(call: Call) -> dict[str, Any]:
    body = call.body
    no_unknown(body, set(ENQUEUE_BODY["properties"]))
    task = task_id(b_str(body, "task_id", required=True) or "")
    workflow = b_str(body, "workflow") or None
    if workflow is not None:
        call.state.workflow_config().workflow(workflow)  # NotFound naming the known workflows
    entry = call.state.queue.enqueue(call.store(), task, workflow=workflow, variables=b_str_map(body, "vars"),
                                     source=API_SOURCE)
    return present.queue_entry(entry)


def hold(call: Call) -> dict[str, Any]:
    return present.queue_entry(call.state.queue.hold(call.store(), task_id(call.path["task_id"])))


def release(call: Call) -> dict[str, Any]:
    return present.queue_entry(call.state.queue.release(call.store(), task_id(call.path["task_id"])))


def drop(call: Call) -> dict[str, Any]:
    return present.queue_entry(call.state.queue.drop(call.store(), task_id(call.path["task_id"])))


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

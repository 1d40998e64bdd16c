"""The queue services through every front end: one run per task, and dropping a dispatched entry cancels its run."""

from __future__ import annotations

import re

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from animus.domain.errors import EXIT_CONFLICT
from support.services import Fronts


def test_a_task_with_an_active_run_is_refused_by_the_cli_the_api_and_mcp_alike(fronts: Fronts) -> None:
    run = fronts.pending_run()

    cli = fronts.project.animus("queue", "enqueue", "TASK-1", "--json")
    assert cli.code == EXIT_CONFLICT
    assert cli.error()["code"] == "conflict"
    assert f"TASK-1 already has an active run {run.id}" in cli.error()["message"]

    api = fronts.api.post("/api/v1/queue", json={"task_id": "TASK-1"})
    assert api.status_code == 409, api.text
    assert api.json()["error"]["code"] == "conflict"
    assert f"TASK-1 already has an active run {run.id}" in api.json()["error"]["message"]

    with pytest.raises(ToolError, match=re.escape(f"conflict: TASK-1 already has an active run {run.id}")):
        fronts.mcp_call("queue_enqueue", {"task_id": "TASK-1"})

    with fronts.store() as store:
        assert store.queue_entries() == []


def test_the_entry_of_a_dispatched_run_is_returned_as_is_by_every_front_end(fronts: Fronts) -> None:
    run = fronts.pending_run()
    with fronts.store() as store:
        store.enqueue("TASK-1")
        store.mark_dispatched("TASK-1", run.id)

    cli = fronts.project.animus("queue", "enqueue", "TASK-1", "--json")
    assert cli.code == 0, cli.stderr
    assert (cli.json()["status"], cli.json()["run_id"], cli.json()["created"]) == ("dispatched", run.id, False)
    api = fronts.api.post("/api/v1/queue", json={"task_id": "TASK-1"})
    assert api.status_code == 201, api.text
    assert (api.json()["status"], api.json()["run_id"]) == ("dispatched", run.id)
    mcp = fronts.mcp_call("queue_enqueue", {"task_id": "TASK-1"})
    assert (mcp["status"], mcp["run_id"], mcp["created"]) == ("dispatched", run.id, False)


@pytest.mark.parametrize("front", ["cli", "api"])
def test_dropping_a_dispatched_entry_cancels_its_run(fronts: Fronts, front: str) -> None:
    run = fronts.pending_run()
    with fronts.store() as store:
        store.enqueue("TASK-1")
        store.mark_dispatched("TASK-1", run.id)

    if front == "cli":
        dropped = fronts.project.animus("queue", "drop", "TASK-1", "--json")
        assert dropped.code == 0, dropped.stderr
        assert (dropped.json()["dropped"], dropped.json()["cancelled_run"]) == (True, run.id)
    else:
        response = fronts.api.delete("/api/v1/queue/TASK-1")
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["run_id"]) == ("dispatched", run.id)

    with fronts.store() as store:
        after = store.get_run(run.id)
        assert after.status.value == "cancelled"
        assert after.failure_reason == "cancelled by user"
        assert store.queue_entry("TASK-1") is None

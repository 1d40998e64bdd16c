"""One status snapshot: `animus status --json`, `GET /api/v1/daemon` and `GET /api/v1/overview` show the same facts."""

from __future__ import annotations

from support.services import Fronts


def test_cli_status_and_the_api_report_the_same_queue_runs_and_outbox(fronts: Fronts) -> None:
    run = fronts.pending_run()
    for title in ("Second", "Third"):
        assert fronts.project.animus("task", "create", "--title", title).code == 0
    with fronts.store() as store:
        store.enqueue("TASK-1")
        store.mark_dispatched("TASK-1", run.id)
        store.enqueue("TASK-2")
        store.enqueue("TASK-3")
        store.set_held("TASK-3", True)

    cli = fronts.project.animus("status", "--json")
    assert cli.code == 0, cli.stderr
    status = cli.json()
    daemon = fronts.api.get("/api/v1/daemon").json()
    overview = fronts.api.get("/api/v1/overview").json()

    assert set(status) == {"daemon", "pool", "queue", "active_runs", "running_agents", "recent", "waiting_gates",
                           "waiting_prs", "notifications", "fleet", "sources", "paused_providers", "parked_runs", "plugins"}
    assert status["plugins"] == []  # no plugin ever started here
    assert status["paused_providers"] == daemon["paused_providers"] == []  # no usage limit recorded
    assert status["parked_runs"] == []
    assert status["sources"] == daemon["sources"] == []  # none configured
    assert (status["queue"]["queued"], status["queue"]["held"], status["queue"]["dispatched"]) == (1, 1, 1)
    assert daemon["queue"] == {"queued": 1, "held": 1, "dispatched": 1}
    assert status["queue"]["entries"] == overview["queue"]
    assert [e["task_id"] for e in overview["queue"]] == ["TASK-1", "TASK-2", "TASK-3"]
    assert [r["run_id"] for r in status["active_runs"]] == [r["id"] for r in overview["active_runs"]] == [run.id]
    assert status["pool"]["used"] == 1
    assert status["notifications"] == daemon["outbox"] == overview["outbox"]
    assert status["waiting_gates"] == overview["gates"] == []
    assert daemon["running_runs"] == daemon["waiting_gates"] == daemon["waiting_prs"] == 0
    assert status["waiting_prs"] == []

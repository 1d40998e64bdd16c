"""HTTP API: every endpoint's happy path and errors, token rules, traversal-proof ids, the error shape."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import Api, build


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]
    return dict(body["error"])


def test_task_create_get_update_status_and_filtered_list(api: Api) -> None:
    made = api.post("/api/v1/tasks", {"title": "Add caching", "priority": "high", "labels": ["perf"], "type": "bugfix"})
    assert made.status_code == 201, made.text
    task = made.json()
    assert task["title"] == "Add caching" and task["priority"] == "high" and task["labels"] == ["perf"]
    tid = task["id"]
    assert api.get(f"/api/v1/tasks/{tid}").json() == {**task, "external": None}  # a task typed in, not imported
    assert api.get(f"/api/v1/tasks/{tid.lower()}").json()["id"] == tid  # ids normalise as in the CLI
    patched = api.patch(f"/api/v1/tasks/{tid}", {"description": "use an LRU", "add_labels": ["cache"], "workflow": "main"})
    assert patched.status_code == 200 and patched.json()["description"] == "use an LRU"
    assert patched.json()["labels"] == ["cache", "perf"] and patched.json()["workflow"] == "main"
    cleared = api.patch(f"/api/v1/tasks/{tid}", {"workflow": None, "remove_labels": ["perf"]}).json()
    assert cleared["workflow"] is None and cleared["labels"] == ["cache"]
    moved = api.post(f"/api/v1/tasks/{tid}/status", {"status": "ready"})
    assert moved.status_code == 200 and moved.json()["status"] == "ready"
    listed = api.get("/api/v1/tasks", params={"label": "cache", "status": ["ready", "blocked"]}).json()
    assert [t["id"] for t in listed] == [tid]
    assert api.get("/api/v1/tasks", params={"q": "caching", "priority": "low"}).json() == []


def test_task_errors_use_the_cli_codes_and_http_statuses(api: Api) -> None:
    _error(api.get("/api/v1/tasks/TASK-99999"), 404, "not_found")
    _error(api.get("/api/v1/tasks/not-a-task"), 400, "invalid_input")
    _error(api.post("/api/v1/tasks", {"title": ""}), 400, "invalid_input")
    _error(api.post("/api/v1/tasks", {"title": "x", "colour": "red"}), 400, "invalid_input")
    _error(api.post("/api/v1/tasks", {"title": "x", "priority": "urgent"}), 400, "invalid_input")
    _error(api.post("/api/v1/tasks", {"title": "x", "dependencies": ["TASK-424242"]}), 404, "not_found")
    _error(api.post("/api/v1/tasks", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "invalid_input")
    _error(api.post("/api/v1/tasks", [1, 2]), 400, "invalid_input")
    _error(api.post("/api/v1/tasks/TASK-1/status", {"status": "in_progress"}), 409, "conflict")  # done → only reopen
    _error(api.get("/api/v1/tasks", params={"limit": "many"}), 400, "invalid_input")
    _error(api.get("/api/v1/tasks", params={"sort": "colour"}), 400, "invalid_input")
    _error(api.get("/api/v1/no-such-thing"), 404, "not_found")
    _error(api.client.put("/api/v1/tasks", headers=api.auth), 405, "method_not_allowed")


def test_mutations_without_the_token_are_401_and_change_nothing(api: Api) -> None:
    before = len(api.get("/api/v1/tasks").json())
    _error(api.client.post("/api/v1/tasks", json={"title": "sneaky"}), 401, "unauthorized")
    wrong = api.client.post("/api/v1/tasks", json={"title": "sneaky"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    _error(api.client.patch("/api/v1/tasks/TASK-1", json={"title": "x"}), 401, "unauthorized")
    _error(api.client.delete("/api/v1/queue/TASK-1"), 401, "unauthorized")
    _error(api.client.post("/api/v1/workflow-runs/TASK-1.main.1/cancel"), 401, "unauthorized")
    assert len(api.get("/api/v1/tasks").json()) == before
    assert api.get("/api/v1/tasks").status_code == 200  # reads on loopback need no token


def test_a_non_loopback_bind_requires_the_token_for_reads_too(api: Api) -> None:
    public = build(api.project, bind_host="0.0.0.0")
    with public.client:
        _error(public.get("/api/v1/tasks"), 401, "unauthorized")
        _error(public.get("/api/v1/overview"), 401, "unauthorized")
        assert public.get("/api/v1/tasks", headers=public.auth).status_code == 200
        assert public.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tasks/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/tasks/../../etc/passwd",
        "/api/v1/runs/..%2F..%2Fanimus.db",
        "/api/v1/runs/..",
        "/api/v1/runs/.hidden/log",
        "/api/v1/runs/%2Fetc%2Fpasswd/log",
        "/api/v1/runs/a..b/stream",
        "/api/v1/workflow-runs/..%2F..%2Fx",
        "/api/v1/runs/web-token",
        "/api/v1/runs/animus.db/log",
    ],
)
def test_traversal_ids_are_rejected_without_reading_outside_the_runs_dir(api: Api, path: str) -> None:
    response = api.get(path, headers=api.auth)
    assert response.status_code in (400, 404), response.text
    assert api.token not in response.text and "SQLite" not in response.text


def test_queue_enqueue_hold_release_drop(api: Api) -> None:
    tid = api.post("/api/v1/tasks", {"title": "queued one", "status": "ready"}).json()["id"]
    refused = api.post("/api/v1/queue", {"task_id": tid, "workflow": "main", "vars": {"k": "v"}})
    assert refused.status_code == 400 and "unknown variable(s) k for workflow 'main'" in refused.json()["error"]["message"]
    entry = api.post("/api/v1/queue", {"task_id": tid, "workflow": "main"})
    assert entry.status_code == 201 and entry.json()["status"] == "queued" and entry.json()["vars"] == {}
    assert api.post("/api/v1/queue", {"task_id": tid}).json()["enqueued_at"] == entry.json()["enqueued_at"]  # idempotent
    assert [e["task_id"] for e in api.get("/api/v1/queue").json()].count(tid) == 1
    assert api.post(f"/api/v1/queue/{tid}/hold").json()["status"] == "held"
    assert api.post(f"/api/v1/queue/{tid}/release").json()["status"] == "queued"
    assert api.delete(f"/api/v1/queue/{tid}").json()["task_id"] == tid
    _error(api.delete(f"/api/v1/queue/{tid}"), 404, "not_found")
    _error(api.post("/api/v1/queue", {"task_id": "TASK-1"}), 409, "conflict")  # TASK-1 is done
    _error(api.post("/api/v1/queue", {"task_id": tid, "workflow": "nope"}), 404, "not_found")
    _error(api.post("/api/v1/queue", {}), 400, "invalid_input")


def test_workflow_run_list_get_phases_decisions(api: Api) -> None:
    runs = api.get("/api/v1/workflow-runs", params={"task": "TASK-1"}).json()
    assert [r["id"] for r in runs] == ["TASK-1.main.1"] and runs[0]["status"] == "completed"
    detail = api.get("/api/v1/workflow-runs/TASK-1.main.1").json()
    assert [p["phase"] for p in detail["phases"]] == ["implementation", "review", "implementation", "review", "signoff"]
    assert detail["phases"][1]["rework_reasons"] == ["also add b.txt"]
    assert detail["input_tokens"] == 300 and detail["open_gates"] == []
    phases = api.get("/api/v1/workflow-runs/TASK-1.main.1/phases").json()
    assert len(phases) == 5 and phases[-1]["mode"] == "manual"
    decisions = api.get("/api/v1/workflow-runs/TASK-1.main.1/decisions").json()
    assert decisions[-1]["source"] in ("manual", "land")
    assert api.get("/api/v1/workflow-runs", params={"status": "completed"}).json()[0]["id"] == "TASK-1.main.1"
    _error(api.get("/api/v1/workflow-runs/TASK-1.main.9"), 404, "not_found")
    _error(api.get("/api/v1/workflow-runs", params={"status": "sleeping"}), 400, "invalid_input")


def test_gates_on_a_run_that_is_not_waiting_are_409(api: Api) -> None:
    _error(api.post("/api/v1/workflow-runs/TASK-1.main.1/approve", {"phase": "signoff"}), 409, "conflict")
    _error(api.post("/api/v1/workflow-runs/TASK-1.main.1/reject", {}), 409, "conflict")
    _error(api.post("/api/v1/workflow-runs/TASK-1.main.1/approve", {"phase": 3}), 400, "invalid_input")


def test_retry_queues_a_new_run_cancel_stops_it_and_resume_requeues_it(api: Api) -> None:
    tid = api.post("/api/v1/tasks", {"title": "to retry", "status": "ready"}).json()["id"]
    store = api.store()
    try:
        from animus.config import load_config
        from animus.engine import prepare_run
        from support.api import animus_project

        proj = animus_project(api.project)
        first, _ = prepare_run(store, load_config(proj), tid, root=proj.root)
    finally:
        store.close()
    _error(api.post(f"/api/v1/workflow-runs/{first.id}/retry"), 409, "conflict")  # still pending
    cancelled = api.post(f"/api/v1/workflow-runs/{first.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    _error(api.post(f"/api/v1/workflow-runs/{first.id}/cancel"), 409, "conflict")
    retried = api.post(f"/api/v1/workflow-runs/{first.id}/retry")
    assert retried.status_code == 201, retried.text
    second = retried.json()
    assert second["id"] != first.id and second["status"] == "pending"
    queue = {e["task_id"]: e for e in api.get("/api/v1/queue").json()}
    assert queue[tid]["workflow"] == "main"
    assert api.post(f"/api/v1/workflow-runs/{second['id']}/cancel").json()["status"] == "cancelled"
    resumed = api.post(f"/api/v1/workflow-runs/{second['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "pending" and resumed.json()["generation"] == 2
    assert tid in {e["task_id"] for e in api.get("/api/v1/queue").json()}


def test_agent_run_get_and_log_with_offsets(api: Api) -> None:
    detail = api.get("/api/v1/workflow-runs/TASK-1.main.1").json()
    agent_run = detail["phases"][0]["agent_run_id"]
    got = api.get(f"/api/v1/runs/{agent_run}").json()
    assert got["run_id"] == agent_run and got["status"] == "finished" and got["tool"] == "scripted"
    assert got["tally"]["input_tokens"] == 100
    whole = api.get(f"/api/v1/runs/{agent_run}/log").json()
    kinds = [e["kind"] for e in whole["events"]]
    assert "text" in kinds and whole["next_offset"] > 0
    first = api.get(f"/api/v1/runs/{agent_run}/log", params={"limit": 1}).json()
    rest = api.get(f"/api/v1/runs/{agent_run}/log", params={"offset": first["next_offset"]}).json()
    assert first["events"] + rest["events"] == whole["events"]
    assert api.get(f"/api/v1/runs/{agent_run}/log", params={"offset": whole["next_offset"]}).json()["events"] == []
    _error(api.get(f"/api/v1/runs/{agent_run}/log", params={"offset": 10**9}), 400, "invalid_input")
    _error(api.get("/api/v1/runs/run-does-not-exist"), 404, "not_found")


def test_daemon_status_and_overview(api: Api) -> None:
    status = api.get("/api/v1/daemon").json()
    assert status["running"] is False and set(status["queue"]) == {"queued", "held", "dispatched"}
    assert status["outbox"]["dead"] == 0
    overview = api.get("/api/v1/overview").json()
    assert "TASK-1" in [t["id"] for t in overview["board"]["done"]]
    assert overview["recent_runs"][0]["id"].startswith("TASK-")
    assert api.get("/api/v1/health").json()["ok"] is True


def test_openapi_lists_every_route_and_responses_carry_security_headers(api: Api) -> None:
    from animus.api import ENDPOINTS

    response = api.get("/api/openapi.json")
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    for endpoint in ENDPOINTS:
        assert endpoint.method.lower() in spec["paths"][endpoint.path], endpoint.path
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in response.headers  # CORS off
    preflight = api.client.options("/api/v1/tasks", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_token_file_is_private_and_stable(api: Api) -> None:
    from animus.api import ensure_token, token_path

    path = token_path(api.state_dir)
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_token(api.state_dir) == api.token == path.read_text().strip()


def test_daemon_status_reads_daemon_json_and_checks_the_pid_is_the_same_process(api: Api) -> None:
    import json
    import os
    from pathlib import Path

    stat = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    info = {"pid": os.getpid(), "proc_start": int(stat[19]), "started_at": "2026-01-01T00:00:00+00:00",
            "started_epoch": 1.0, "executor_id": "exec-1", "pool_size": 3, "project_root": str(api.state_dir),
            "http_port": 4177}
    path = api.state_dir / "daemon.json"
    try:
        path.write_text(json.dumps(info))
        up = api.get("/api/v1/daemon").json()
        assert up["running"] is True and up["pool_size"] == 3 and up["executor_id"] == "exec-1" and up["uptime_secs"] > 0
        path.write_text(json.dumps({**info, "proc_start": int(stat[19]) + 1}))  # same pid, another process
        assert api.get("/api/v1/daemon").json()["running"] is False
        # one reader of daemon.json: a record the daemon itself would not accept is no daemon here either
        path.write_text(json.dumps({k: v for k, v in info.items() if k != "project_root"}))
        down = api.get("/api/v1/daemon").json()
        assert down["running"] is False and "pid" not in down
    finally:
        path.unlink(missing_ok=True)

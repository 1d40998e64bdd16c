"""`create_app(on_change=…)`: every request that changes the queue or a run calls it (the daemon's dispatch wake-up)."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from support.api import animus_project
from support.engine import make_project


def test_queue_changes_call_on_change_and_reads_do_not(tmp_path: Path) -> None:
    from animus.api import create_app, ensure_token
    from animus.config import load_config

    project = animus_project(make_project(tmp_path))
    calls: list[str] = []
    token = ensure_token(project.state_dir)
    app = create_app(project, config=load_config(project), token=token, on_change=lambda: calls.append("woken"))
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/queue").status_code == 200
        assert calls == []
        assert client.post("/api/v1/queue", json={"task_id": "TASK-1"}, headers=auth).status_code == 201
        assert calls == ["woken"]
        assert client.post("/api/v1/queue/TASK-1/hold", json={}, headers=auth).status_code == 200
        assert client.post("/api/v1/queue/TASK-1/release", json={}, headers=auth).status_code == 200
        assert client.delete("/api/v1/queue/TASK-1", headers=auth).status_code == 200
        assert calls == ["woken"] * 4
        assert client.get("/api/v1/overview").status_code == 200
        assert calls == ["woken"] * 4

"""SSE streams over a real uvicorn server: the events table (resumable by seq) and one agent run's events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.api import Api, animus_project


def _read_events(response: httpx.Response, want: int, timeout: float = 20) -> list[dict[str, Any]]:
    """Parse SSE frames until ``want`` data events arrived (id, event, data)."""
    events: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        assert time.monotonic() < deadline, f"only {len(events)} events in {timeout}s"
        if not line:
            if "data" in frame:
                events.append(frame)
                if len(events) >= want:
                    return events
            frame = {}
        elif line.startswith("id: "):
            frame["id"] = line[4:]
        elif line.startswith("event: "):
            frame["event"] = line[7:]
        elif line.startswith("data: "):
            frame["data"] = json.loads(line[6:])
    return events


@pytest.fixture
def server(api: Api) -> Iterator[str]:
    from animus.api import create_app, serve_in_thread
    from animus.config import load_config

    proj = animus_project(api.project)
    app = create_app(proj, config=load_config(proj), token=api.token, poll_secs=0.05)
    handle = serve_in_thread(app, "127.0.0.1", 0)
    try:
        yield handle.url
    finally:
        handle.stop()
    assert not handle.thread.is_alive()


def test_events_stream_delivers_a_task_creation_live_and_resumes_after_last_event_id(api: Api, server: str) -> None:
    store = api.store()
    try:
        head = max(int(e["seq"]) for e in store.events(0, 100000))
    finally:
        store.close()
    created: list[str] = []

    def create_later() -> None:
        time.sleep(0.3)
        created.append(api.post("/api/v1/tasks", {"title": "streamed"}).json()["id"])

    with httpx.Client(timeout=20) as client, client.stream("GET", f"{server}/api/v1/events",
                                                           headers={"Last-Event-ID": str(head)}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        thread = threading.Thread(target=create_later)
        thread.start()
        events = _read_events(response, 1)
        thread.join()
    assert events[0]["event"] == "task.created" and events[0]["data"]["subject"] == created[0]
    assert int(events[0]["id"]) == head + 1
    with httpx.Client(timeout=20) as client, client.stream("GET", f"{server}/api/v1/events",
                                                           params={"after": head, "limit": 1}) as response:
        again = _read_events(response, 1)
    assert again[0]["data"] == events[0]["data"]  # a reconnect from the same point replays, nothing is lost


def test_agent_stream_replays_a_finished_run_then_ends(api: Api, server: str) -> None:
    detail = api.get("/api/v1/workflow-runs/TASK-1.main.1").json()
    agent_run = detail["phases"][0]["agent_run_id"]
    log = api.get(f"/api/v1/runs/{agent_run}/log").json()
    with httpx.Client(timeout=20) as client, client.stream("GET", f"{server}/api/v1/runs/{agent_run}/stream") as response:
        events = _read_events(response, 1000)
    assert events[-1]["event"] == "end" and events[-1]["data"]["status"] == "finished"
    streamed = [{k: v for k, v in e["data"].items() if k != "run_id"} for e in events[:-1]]
    assert streamed == log["events"]
    # one log line can yield several events; they share its end offset as their id
    cut = next(i for i in range(1, len(events)) if events[i]["id"] != events[i + 1]["id"])
    middle = events[cut]["id"]
    with httpx.Client(timeout=20) as client, client.stream(
        "GET", f"{server}/api/v1/runs/{agent_run}/stream", headers={"Last-Event-ID": middle}
    ) as response:
        resumed = _read_events(response, 1000)
    assert [e["data"] for e in resumed] == [e["data"] for e in events[cut + 1 :]]


def test_stream_errors_are_json_before_the_stream_starts(api: Api, server: str) -> None:
    with httpx.Client(timeout=5) as client:
        missing = client.get(f"{server}/api/v1/runs/nope-nope/stream")
        bad = client.get(f"{server}/api/v1/events", headers={"Last-Event-ID": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"

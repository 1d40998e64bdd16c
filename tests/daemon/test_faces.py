"""The daemon's other faces: it serves the API and dashboard, runs file watchers, delivers notifications."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from support.daemon import create_task, log_text, start, wait_for
from support.engine import Project


def _get(url: str, token: str | None = None, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_the_daemon_serves_the_api_and_dashboard_with_its_token(project_factory: Callable[..., Project]) -> None:
    project = project_factory()
    info = start(project)
    port = info["http_port"]
    assert isinstance(port, int) and port > 0
    base = f"http://127.0.0.1:{port}"
    token = project.animus("web", "token").stdout.strip()
    status, page = _get(base + "/")
    assert status == 200 and b"<html" in page.lower()
    status, body = _get(base + "/api/v1/tasks", token)
    assert status == 200
    denied, _ = _get(base + "/api/v1/tasks", None, "POST", json.dumps({"title": "x"}).encode())
    assert denied == 401
    created, body = _get(base + "/api/v1/tasks", token, "POST", json.dumps({"title": "from the API"}).encode())
    assert created in (200, 201), body
    listed = project.animus("task", "list", "--json").json()
    assert "from the API" in [t["title"] for t in listed]
    shown = project.animus("web")
    assert f":{port}/" in shown.stdout  # `animus web` points at the daemon's real port


def test_a_busy_default_port_falls_back_to_a_free_one(project_factory: Callable[..., Project]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        project = project_factory(daemon=f", http: {{port: {taken}}}")
        env_before = project.env
        info = start_without_port_override(project)
        assert info["http_port"] not in (None, taken)
        assert "http_port_busy" in log_text(project)
        assert env_before["ANIMUS_HTTP_PORT"] == "0"


def start_without_port_override(project: Project) -> dict[str, Any]:
    result = project.animus("daemon", "start", "--json", env={"ANIMUS_HTTP_PORT": ""}, timeout=90)
    assert result.code == 0, (result.stderr, log_text(project)[-2000:])
    return dict(result.json())


def test_a_file_watcher_trigger_creates_and_runs_a_task(project_factory: Callable[..., Project]) -> None:
    trigger = (
        "triggers:\n  - id: inbox\n    type: file_watcher\n"
        "    config: {paths: [\"inbox/*.md\"], debounce_secs: 0.3}\n"
    )
    project = project_factory(extra=trigger)
    start(project)
    (project.repo / "inbox").mkdir()
    (project.repo / "inbox" / "idea.md").write_text("please do this\n")

    def watched() -> list[dict[str, Any]]:
        return [t for t in project.animus("task", "list", "--json").json() if t["title"] != "Do the thing"]

    wait_for(lambda: [t for t in watched() if t["status"] == "done"], 90, "the watcher's task to land")
    tasks = watched()
    assert len(tasks) == 1 and "idea.md" in json.dumps(tasks[0])


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_first = 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append({"key": self.headers.get("Idempotency-Key"), "body": json.loads(body)})
        if len(type(self).received) <= type(self).fail_first:
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "fail_first": 1})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()


def test_the_daemon_delivers_notifications_at_least_once_with_an_idempotency_key(
    project_factory: Callable[..., Project], receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    notify = "notifications:\n  - {id: hook, type: webhook, url_env: ANIMUS_TEST_HOOK_URL, events: [run.completed]}\n"
    project = project_factory(extra=notify)
    result = project.animus("daemon", "start", "--json", env={"ANIMUS_TEST_HOOK_URL": url}, timeout=90)
    assert result.code == 0, result.stderr
    task = create_task(project, "notify me")
    project.animus("queue", "enqueue", task)
    wait_for(lambda: any(r["key"] and r is not handler.received[0] for r in handler.received), 90, "a delivered notification")
    keys = {r["key"] for r in handler.received}
    assert len(keys) == 1  # the retry after the 503 carried the same idempotency key
    assert handler.received[-1]["body"]["event"] == "run.completed"
    status = project.animus("status", "--json").json()
    assert status["notifications"]["delivered"] == 1 and status["notifications"]["dead"] == 0

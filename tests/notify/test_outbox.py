"""The notification outbox against a real local HTTP receiver: retries with backoff, idempotency key, dead letters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Receiver:
    """A webhook endpoint that fails the first ``fail_first`` requests, then dedupes by Idempotency-Key."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.processed: dict[str, dict[str, Any]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                receiver.requests.append({"key": key, "body": body, "event": self.headers.get("X-Animus-Event")})
                if len(receiver.requests) <= receiver.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.processed.setdefault(str(key), body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(fail_first: int = 0) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _config(kind: str = "webhook", events: tuple[str, ...] = ("run.completed", "run.failed"), max_attempts: int = 5) -> Any:
    from animus.config import WorkflowConfig

    return WorkflowConfig.model_validate_json(json.dumps({
        "default_workflow": "w",
        "phases": {"p": {"mode": "manual"}},
        "workflows": [{"id": "w", "phases": ["p"]}],
        "notifications": [{"id": "ops", "type": kind, "url_env": "OPS_HOOK_URL", "events": list(events),
                           "max_attempts": max_attempts, "backoff_secs": 10}],
    }))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    from animus.store import open_store

    with open_store(db_path=tmp_path / "animus.db") as s:
        yield s


def _finish_a_run(store: Any, status: str = "completed", title: str = "Ship it") -> str:
    from animus.store import NewTask

    task = store.create_task(NewTask(title=title))
    run = store.create_run(task.id, "w")
    store.update_run(run.id, status="running")
    store.update_run(run.id, status=status)
    return str(run.id)


def _rows(store: Any) -> list[dict[str, Any]]:
    return list(store.conn.execute("SELECT id, status, attempts, event FROM outbox ORDER BY id"))


def test_delivered_once_with_the_idempotency_key_after_two_failed_attempts(store: Any, receiver_factory: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.notify import deliver_due

    receiver = receiver_factory(fail_first=2)
    monkeypatch.setenv("OPS_HOOK_URL", receiver.url)
    config = _config()
    run_id = _finish_a_run(store)
    first = deliver_due(store, config, T0)
    assert (first.queued, first.failed, first.delivered) == (1, 1, 0)
    assert deliver_due(store, config, T0 + timedelta(seconds=9)).to_dict()["failed"] == 0  # backing off: not due yet
    assert len(receiver.requests) == 1
    assert deliver_due(store, config, T0 + timedelta(seconds=10)).failed == 1  # 2nd try after 10 s
    assert deliver_due(store, config, T0 + timedelta(seconds=29)).delivered == 0  # then 20 s
    assert deliver_due(store, config, T0 + timedelta(seconds=30)).delivered == 1
    for later in range(3):
        deliver_due(store, config, T0 + timedelta(minutes=5 + later))
    keys = [r["key"] for r in receiver.requests]
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0].startswith("evt-")
    assert list(receiver.processed) == keys[:1]  # the receiver acted once
    body = receiver.processed[keys[0]]
    assert body["event"] == "run.completed" and body["subject"] == run_id and body["run"]["status"] == "completed"
    assert body["task"]["title"] == "Ship it"
    assert _rows(store) == [{"id": keys[0], "status": "delivered", "attempts": 3, "event": "run.completed"}]


def test_dead_letter_after_max_attempts_and_visible_in_the_summary(store: Any, receiver_factory: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.notify import deliver_due, outbox_summary

    receiver = receiver_factory(fail_first=1000)
    monkeypatch.setenv("OPS_HOOK_URL", receiver.url)
    config = _config(max_attempts=3)
    _finish_a_run(store, status="failed")
    reports = [deliver_due(store, config, T0 + timedelta(hours=h)) for h in range(6)]
    assert [r.failed for r in reports[:2]] == [1, 1] and reports[2].dead == 1
    assert len(receiver.requests) == 3
    summary = outbox_summary(store)
    assert (summary["pending"], summary["delivered"], summary["dead"]) == (0, 0, 1)
    assert summary["dead_letters"][0]["event"] == "run.failed" and "503" in summary["dead_letters"][0]["last_error"]


def test_rescanning_events_never_duplicates_rows(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.notify import scan_events

    monkeypatch.delenv("OPS_HOOK_URL", raising=False)
    config = _config(events=("run.completed", "run.started", "task.created"))
    _finish_a_run(store)
    _finish_a_run(store, title="second")
    assert scan_events(store, config, T0)[1] == 6  # per run: task.created, run.started, run.completed
    assert scan_events(store, config, T0) == (0, 0)
    store.conn.execute("UPDATE counters SET value = 0 WHERE name = 'outbox.scan_seq'")  # as if the cursor was lost
    scanned, added = scan_events(store, config, T0)
    assert scanned > 0 and added == 0
    assert len(_rows(store)) == 6


def test_only_configured_events_are_queued_and_a_missing_url_is_retried(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.notify import deliver_due

    monkeypatch.delenv("OPS_HOOK_URL", raising=False)
    _finish_a_run(store, status="escalated")
    report = deliver_due(store, _config(), T0)
    assert report.queued == 0 and _rows(store) == []
    _finish_a_run(store, status="failed")
    report = deliver_due(store, _config(), T0)
    assert report.queued == 1 and report.failed == 1 and "OPS_HOOK_URL is not set" in report.errors[0]


def test_slack_notifier_posts_a_text_message(store: Any, receiver_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.notify import deliver_due

    receiver = receiver_factory()
    monkeypatch.setenv("OPS_HOOK_URL", receiver.url)
    _finish_a_run(store, title="<b>bold</b> & co")
    assert deliver_due(store, _config(kind="slack"), T0).delivered == 1
    text = receiver.requests[0]["body"]["text"]
    assert set(receiver.requests[0]["body"]) == {"text"} and "run.completed" in text and "<b>" not in text


def test_event_names_follow_run_and_task_status_changes() -> None:
    from animus.notify import notification_name

    assert notification_name("run.status", {"from": "running", "to": "waiting_manual"}) == "gate.waiting"
    assert notification_name("run.status", {"from": "running", "to": "merge_conflict"}) == "run.merge_conflict"
    assert notification_name("run.status", {"from": "waiting_manual", "to": "running"}) is None
    assert notification_name("task.status", {"from": "in_progress", "to": "done"}) == "task.done"
    assert notification_name("phase.started", {}) is None

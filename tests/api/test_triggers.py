"""Webhook triggers: HMAC signatures, malformed JSON, per-trigger rate limit, templated tasks, GitHub issues."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from support.api import SECRET, Api


def _signed(trigger: str, body: bytes, *, secret: str = SECRET, at: int | None = None,
            headers: dict[str, str] | None = None) -> dict[str, str]:
    """A generic webhook's headers (timestamp + signature over ``timestamp.body``); GitHub's for ``gh``."""
    from animus.api import expected_signature

    sent = {"Content-Type": "application/json"}
    if trigger == "gh":
        sent |= {"X-Hub-Signature-256": expected_signature(secret, body),
                 "X-GitHub-Delivery": f"d-{time.monotonic_ns()}"}
    else:
        stamp = str(int(time.time()) if at is None else at)
        sent |= {"X-Animus-Timestamp": stamp, "X-Animus-Signature": expected_signature(secret, body, timestamp=stamp)}
    return sent | (headers or {})


def _fire(api: Api, trigger: str, payload: Any, *, secret: str = SECRET, raw: bytes | None = None,
          headers: dict[str, str] | None = None, at: int | None = None) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    sent = _signed(trigger, body, secret=secret, at=at, headers=headers)
    return api.client.post(f"/api/v1/triggers/{trigger}", content=body, headers=sent)


def _tasks(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/tasks").json())


def _hits(api: Api) -> list[tuple[str, str]]:
    store = api.store()
    try:
        return [(r["trigger_id"], r["outcome"]) for r in store.conn.execute("SELECT * FROM trigger_hits ORDER BY at")]
    finally:
        store.close()


def test_signed_payload_creates_a_templated_task_and_queues_it(fresh: Api) -> None:
    response = _fire(fresh, "hook", {"ref": "v1.2", "pusher": {"name": "ada"}})
    assert response.status_code == 201, response.text
    task = response.json()["task"]
    assert task["title"] == "Deploy v1.2" and task["description"] == "pushed by ada"
    assert task["status"] == "ready" and task["labels"] == ["trigger-hook"] and response.json()["queued"] is True
    queue = fresh.get("/api/v1/queue").json()
    assert [(e["task_id"], e["source"]) for e in queue] == [(task["id"], "webhook")]
    assert _hits(fresh) == [("hook", "created")]


def test_enqueue_false_creates_a_backlog_task_only(fresh: Api) -> None:
    response = _fire(fresh, "backlog-hook", {"title": "from outside"})
    assert response.status_code == 201 and response.json()["queued"] is False
    assert response.json()["task"]["title"] == "from outside" and response.json()["task"]["status"] == "backlog"
    assert fresh.get("/api/v1/queue").json() == []


def test_bad_or_missing_signature_is_401_and_creates_nothing(fresh: Api) -> None:
    before = _tasks(fresh)
    assert _fire(fresh, "hook", {"ref": "x"}, secret="wrong").status_code == 401
    unsigned = fresh.client.post("/api/v1/triggers/hook", json={"ref": "x"})
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "unauthorized"
    body = json.dumps({"ref": "x"}).encode()
    tampered = fresh.client.post("/api/v1/triggers/hook", content=body + b" ", headers=_signed("hook", body))
    assert tampered.status_code == 401
    assert _tasks(fresh) == before and fresh.get("/api/v1/queue").json() == []
    assert [o for _, o in _hits(fresh)] == ["bad_signature"] * 3


def test_malformed_json_is_400_and_creates_nothing(fresh: Api) -> None:
    before = _tasks(fresh)
    response = _fire(fresh, "hook", None, raw=b"{ref: nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"
    assert _fire(fresh, "hook", None, raw=b"[1, 2]").status_code == 400
    assert _tasks(fresh) == before


def test_rate_limit_per_trigger_is_429_with_retry_after(fresh: Api) -> None:
    codes = [_fire(fresh, "hook", {"ref": f"r{i}"}).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    limited = _fire(fresh, "hook", {"ref": "again"})
    assert limited.headers["retry-after"] == "60" and limited.json()["error"]["code"] == "rate_limited"
    assert len([t for t in _tasks(fresh) if t["title"].startswith("Deploy")]) == 3
    assert _fire(fresh, "backlog-hook", {"title": "other trigger"}).status_code == 201  # limits are per trigger


def test_trigger_without_a_secret_needs_the_api_token(fresh: Api) -> None:
    assert fresh.client.post("/api/v1/triggers/tokenhook", json={"title": "t"}).status_code == 401
    response = fresh.client.post("/api/v1/triggers/tokenhook", json={"title": "t"}, headers=fresh.auth)
    assert response.status_code == 201 and response.json()["task"]["title"] == "t"


def test_unknown_trigger_is_404(fresh: Api) -> None:
    assert _fire(fresh, "nope", {}).status_code == 404
    assert _fire(fresh, "..%2F..%2Fetc", {}).status_code == 404


def _issue(number: int, labels: list[str], action: str = "opened") -> dict[str, Any]:
    return {
        "action": action,
        "issue": {"number": number, "title": "Login <b>breaks</b>", "body": "Steps: …",
                  "html_url": f"https://github.com/acme/app/issues/{number}", "labels": [{"name": n} for n in labels]},
    }


def test_github_issue_with_the_label_creates_one_linked_task(fresh: Api) -> None:
    gh = {"X-GitHub-Event": "issues"}
    response = _fire(fresh, "gh", _issue(42, ["bug", "animus"]), headers=gh)
    assert response.status_code == 201, response.text
    task = response.json()["task"]
    assert task["title"] == "#42: Login <b>breaks</b>" and "gh-issue-42" in task["labels"]
    assert task["description"].startswith("https://github.com/acme/app/issues/42") and task["workflow"] == "main"
    again = _fire(fresh, "gh", _issue(42, ["animus"], action="labeled"), headers=gh)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len([t for t in _tasks(fresh) if "gh-issue-42" in t["labels"]]) == 1


def test_github_issue_without_the_label_or_other_events_are_ignored(fresh: Api) -> None:
    before = _tasks(fresh)
    assert _fire(fresh, "gh", _issue(7, ["bug"]), headers={"X-GitHub-Event": "issues"}).status_code == 202
    assert _fire(fresh, "gh", _issue(7, ["animus"], action="closed"), headers={"X-GitHub-Event": "issues"}).status_code == 202
    assert _fire(fresh, "gh", {"zen": "hi"}, headers={"X-GitHub-Event": "ping"}).status_code == 200
    assert _fire(fresh, "gh", {"ref": "x"}, headers={"X-GitHub-Event": "push"}).status_code == 202
    assert _tasks(fresh) == before


def test_templates_only_look_values_up(fresh: Api) -> None:
    from animus.api import render_template

    context = {"payload": {"a": {"b": [1, {"c": "deep"}]}, "n": None}}
    assert render_template("{{ payload.a.b.1.c }}/{{payload.n}}/{{ payload.missing }}", context) == "deep//"
    assert render_template("{{ payload.__class__ }}{__import__('os')}", context) == "{__import__('os')}"


def test_a_replayed_github_delivery_makes_one_task(fresh: Api) -> None:
    body = json.dumps(_issue(51, ["animus"])).encode()
    sent = _signed("gh", body, headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "72d3162e-cc78-11e3"})
    codes = [fresh.client.post("/api/v1/triggers/gh", content=body, headers=sent).status_code for _ in range(5)]
    assert codes == [201, 409, 409, 409, 409]
    assert len([t for t in _tasks(fresh) if "gh-issue-51" in t["labels"]]) == 1
    unnamed = {k: v for k, v in sent.items() if k != "X-GitHub-Delivery"}
    assert fresh.client.post("/api/v1/triggers/gh", content=body, headers=unnamed).status_code == 400


def test_a_replayed_or_stale_generic_webhook_makes_one_task(fresh: Api) -> None:
    body = json.dumps({"title": "once"}).encode()
    sent = _signed("backlog-hook", body)
    codes = [fresh.client.post("/api/v1/triggers/backlog-hook", content=body, headers=sent).status_code for _ in range(5)]
    assert codes == [201, 409, 409, 409, 409]
    stale = _fire(fresh, "backlog-hook", {"title": "stale"}, at=int(time.time()) - 301)
    assert stale.status_code == 401 and "X-Animus-Timestamp" in stale.json()["error"]["message"]
    body_only = fresh.client.post("/api/v1/triggers/backlog-hook", content=body,
                                  headers={"X-Animus-Signature": sent["X-Animus-Signature"]})
    assert body_only.status_code == 401  # the timestamp is part of what is signed
    assert [t["title"] for t in _tasks(fresh) if "trigger-backlog-hook" in t["labels"]] == ["once"]


def test_concurrent_signed_calls_on_a_real_server_accept_exactly_the_limit(fresh: Api) -> None:
    from animus.api import create_app, serve_in_thread
    from animus.config import load_config
    from support.api import animus_project

    proj = animus_project(fresh.project)
    handle = serve_in_thread(create_app(proj, config=load_config(proj), token=fresh.token, poll_secs=0.05), "127.0.0.1", 0)
    codes: list[int] = []
    barrier = threading.Barrier(40)

    def fire(i: int) -> None:
        body = json.dumps({"title": f"race {i}"}).encode()
        sent = _signed("race-hook", body)
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            codes.append(client.post(f"{handle.url}/api/v1/triggers/race-hook", content=body, headers=sent).status_code)

    try:
        threads = [threading.Thread(target=fire, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        handle.stop()
    assert sorted(codes) == [201] * 10 + [429] * 30
    assert len([t for t in _tasks(fresh) if "trigger-race-hook" in t["labels"]]) == 10


def test_github_pull_request_and_check_events_wake_runs_and_never_make_tasks(fresh: Api) -> None:
    before = _tasks(fresh)
    pull = {"action": "synchronize", "number": 9, "pull_request": {"number": 9, "head": {"ref": "animus/task-9"}},
            "repository": {"full_name": "acme/app"}}
    for event in ("pull_request", "pull_request_review", "check_suite", "check_run"):
        response = _fire(fresh, "gh", pull, headers={"X-GitHub-Event": event})
        assert response.status_code == 202, response.text
        assert response.json() == {"ok": True, "woke": []}  # no run waits on PR #9 here
    assert _tasks(fresh) == before
    assert [outcome for trigger, outcome in _hits(fresh) if trigger == "gh"] == ["ignored"] * 4
    assert _fire(fresh, "gh", pull, secret="wrong", headers={"X-GitHub-Event": "check_run"}).status_code == 401

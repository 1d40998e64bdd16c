"""Webhook triggers: `POST /api/v1/triggers/<id>` checks an HMAC signature, rate-limits, and turns the payload into a task.

Plain webhooks render the trigger's ``config.task`` title/description templates (``{{ payload.path }}``);
GitHub webhooks (``config.github``) turn an ``issues`` event carrying the configured label into a task
linked to the issue (label ``gh-issue-<n>``, the issue URL in the description), once per issue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import ApiState, Endpoint, RateLimited, Unauthorized, _Call, _check_token
from animus.domain.errors import InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from animus.config import WebhookTrigger
    from animus.store import Store

_SIGNATURE_HEADER = "x-animus-signature"
_GITHUB_SIGNATURE_HEADER = "x-hub-signature-256"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_MAX_FIELD_CHARS = 20_000
_COUNTED_OUTCOMES = ("created", "ignored", "duplicate")  # what the rate limit counts (refusals do not)


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def render_template(template: str, context: dict[str, Any]) -> str:
    """``{{ payload.issue.title }}``-style placeholders: dotted lookups only, never code; missing → empty."""

    def value(match: re.Match[str]) -> str:
        current: Any = context
        for part in match.group(1).split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return ""
        if isinstance(current, dict | list):
            return json.dumps(current, ensure_ascii=False)[:_MAX_FIELD_CHARS]
        return "" if current is None else str(current)[:_MAX_FIELD_CHARS]

    return _PLACEHOLDER.sub(value, template)


def _trigger(call: _Call) -> WebhookTrigger:
    return _enabled_trigger(call.state, call.path)


def _enabled_trigger(state: ApiState, path: dict[str, str]) -> WebhookTrigger:
    """The trigger a request names; run before the body is read, so an unknown id costs no upload."""
    wanted = path["trigger_id"]
    for trigger in state.workflow_config().triggers:
        if trigger.id == wanted and trigger.type == "webhook" and trigger.enabled:
            return trigger
    raise NotFound(f"no enabled webhook trigger {wanted[:80]!r}", hint="triggers are configured in .animus/workflows.yaml")


def _authenticate(call: _Call, trigger: WebhookTrigger) -> None:
    secret_env = trigger.config.secret_env
    if secret_env is None:
        _check_token(call.state, call.headers)  # no shared secret: only holders of the API token may fire it
        return
    secret = os.environ.get(secret_env)
    if not secret:
        raise Unavailable(f"trigger {trigger.id!r}: the secret variable {secret_env} is not set in the server's environment")
    presented = call.headers.get(_SIGNATURE_HEADER) or call.headers.get(_GITHUB_SIGNATURE_HEADER) or ""
    if not hmac.compare_digest(presented.encode("utf-8", "replace"), expected_signature(secret, call.raw_body).encode()):
        call.store().record_trigger_hit(trigger.id, "bad_signature")
        raise Unauthorized(f"trigger {trigger.id!r}: missing or wrong {_SIGNATURE_HEADER} (sha256=<hex HMAC of the body>)")


def _rate_limit(store: Store, trigger: WebhookTrigger) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=60)).isoformat(timespec="microseconds")
    hits = store.count_trigger_hits(trigger.id, since=since, outcomes=_COUNTED_OUTCOMES)
    if hits >= trigger.config.rate_limit_per_minute:
        store.record_trigger_hit(trigger.id, "rate_limited")
        raise RateLimited(
            f"trigger {trigger.id!r} accepts {trigger.config.rate_limit_per_minute} request(s) per minute",
            details={"retry_after": 60},
        )


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the payload is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("the payload is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput("the payload must be a JSON object")
    return data


def _fire_trigger(call: _Call) -> Any:
    from starlette.responses import JSONResponse

    trigger = _trigger(call)
    _authenticate(call, trigger)
    store = call.store()
    _rate_limit(store, trigger)
    payload = _payload(call.raw_body)
    if trigger.config.github is not None:
        event = call.headers.get("x-github-event", "")
        if event == "ping":
            store.record_trigger_hit(trigger.id, "ignored", "ping")
            return JSONResponse({"ok": True, "ignored": "ping"}, status_code=200)
        new, reason = _github_task(trigger, event, payload)
    else:
        new, reason = _plain_task(trigger, payload), ""
    if new is None:
        store.record_trigger_hit(trigger.id, "ignored", reason)
        return JSONResponse({"ok": True, "ignored": reason}, status_code=202)
    link = next((label for label in new.labels if label.startswith("gh-issue-")), None)
    if link is not None:
        from animus.store import TaskQuery

        existing = store.list_tasks(TaskQuery(labels=(link,), limit=1))
        if existing:
            store.record_trigger_hit(trigger.id, "duplicate", existing[0].id)
            return JSONResponse({"ok": True, "task": present._task(existing[0]), "queued": False, "duplicate": True})
    task = store.create_task(new)
    queued = False
    if trigger.config.enqueue:
        services.enqueue(store, task.id, workflow=trigger.workflow_ref, variables={}, source="webhook")
        call.state.queue_changed()
        queued = True
    store.record_trigger_hit(trigger.id, "created", task.id)
    return JSONResponse({"ok": True, "task": present._task(task), "queued": queued}, status_code=201)


def _plain_task(trigger: WebhookTrigger, payload: dict[str, Any]) -> Any:
    from animus.domain.tasks import TaskStatus
    from animus.store import NewTask

    context = {"payload": payload, "trigger": {"id": trigger.id}}
    template = trigger.config.task
    title = render_template(template.title, context) if template.title else str(payload.get("title") or "")
    if not title.strip():
        title = f"{trigger.id}: webhook at {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC"
    if template.description is not None:
        description = render_template(template.description, context)
    else:
        description = json.dumps(payload, ensure_ascii=False, indent=2)[:_MAX_FIELD_CHARS]
    status = TaskStatus.READY if trigger.config.enqueue else TaskStatus.BACKLOG
    return NewTask(title=title.strip()[:500], description=description, status=status, labels=(f"trigger-{trigger.id}",),
                   workflow=trigger.workflow_ref)


def _github_task(trigger: WebhookTrigger, event: str, payload: dict[str, Any]) -> tuple[Any, str]:
    from animus.domain.tasks import TaskStatus
    from animus.store import NewTask

    github = trigger.config.github
    assert github is not None
    if event != "issues":
        return None, f"event {event[:40]!r} is not `issues`"
    action = payload.get("action")
    issue = payload.get("issue")
    if not isinstance(issue, dict) or not isinstance(issue.get("number"), int):
        raise InvalidInput("an `issues` payload needs issue.number")
    if action not in github.actions:
        return None, f"action {str(action)[:40]!r} is not one of {', '.join(github.actions)}"
    labels = [lb.get("name") for lb in issue.get("labels") or [] if isinstance(lb, dict)]
    if github.label not in labels:
        return None, f"issue #{issue['number']} lacks the label {github.label!r}"
    number = int(issue["number"])
    url = str(issue.get("html_url") or "")
    context = {"payload": payload, "issue": issue, "trigger": {"id": trigger.id}}
    template = trigger.config.task
    title = render_template(template.title, context) if template.title else f"#{number}: {issue.get('title') or ''}"
    body = str(issue.get("body") or "")[:_MAX_FIELD_CHARS]
    description = render_template(template.description, context) if template.description else f"{url}\n\n{body}".strip()
    if url and url not in description:
        description = f"{url}\n\n{description}"
    status = TaskStatus.READY if trigger.config.enqueue else TaskStatus.BACKLOG
    return NewTask(title=title.strip()[:500] or f"GitHub issue #{number}", description=description, status=status,
                   labels=(f"gh-issue-{number}", f"trigger-{trigger.id}"), workflow=trigger.workflow_ref), ""


ENDPOINTS = (
    Endpoint("POST", "/api/v1/triggers/{trigger_id}", _fire_trigger,
             "Fire a webhook trigger (X-Animus-Signature: sha256=<hex HMAC of the body>, or the API token)",
             "triggers", body={"type": "object"}, status=201, auth="handler", before_body=_enabled_trigger),
)

"""Webhook triggers: `POST /api/v1/triggers/<id>` checks an HMAC signature, refuses replays, rate-limits, and turns the payload into a task.

Plain webhooks render the trigger's ``config.task`` title/description templates (``{{ payload.path }}``);
GitHub webhooks (``config.github``) turn an ``issues`` event carrying the configured label into a task
linked to the issue (label ``gh-issue-<n>``, the issue URL in the description), once per issue, and
wake the runs waiting on a pull request a ``pull_request``, review or ``check_*`` event names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import ApiState, Endpoint, RateLimited, Unauthorized, _Call, _check_token
from animus.domain.errors import AnimusError, Conflict, InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from animus.config import WebhookTrigger
    from animus.store import Store

_SIGNATURE_HEADER = "x-animus-signature"
_GITHUB_SIGNATURE_HEADER = "x-hub-signature-256"
_TIMESTAMP_HEADER = "x-animus-timestamp"
_GITHUB_DELIVERY_HEADER = "x-github-delivery"
_MAX_TIMESTAMP_AGE_SECS = 300  # a signed generic call older (or further ahead) than this is refused
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_MAX_FIELD_CHARS = 20_000


def expected_signature(secret: str, body: bytes, *, timestamp: str | None = None) -> str:
    """``sha256=<hex HMAC>`` of the body, or of ``timestamp + "." + body`` (the generic webhook's replay guard)."""
    signed = body if timestamp is None else timestamp.encode("utf-8", "replace") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


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


def _authenticate(call: _Call, trigger: WebhookTrigger) -> str | None:
    """Check the caller; returns the key that makes this delivery unique (``None``: nothing to remember)."""
    github = trigger.config.github is not None
    delivery = call.headers.get(_GITHUB_DELIVERY_HEADER, "").strip()[:200] if github else ""
    secret_env = trigger.config.secret_env
    if secret_env is None:
        _check_token(call.state, call.headers)  # no shared secret: only holders of the API token may fire it
        return f"github:{delivery}" if delivery else None
    secret = os.environ.get(secret_env)
    if not secret:
        raise Unavailable(f"trigger {trigger.id!r}: the secret variable {secret_env} is not set in the server's environment")
    presented = call.headers.get(_SIGNATURE_HEADER) or call.headers.get(_GITHUB_SIGNATURE_HEADER) or ""
    timestamp = None if github else call.headers.get(_TIMESTAMP_HEADER, "").strip()
    if not hmac.compare_digest(presented.encode("utf-8", "replace"),
                               expected_signature(secret, call.raw_body, timestamp=timestamp).encode()):
        call.store().record_trigger_hit(trigger.id, "bad_signature")
        signed = "the body" if github else 'X-Animus-Timestamp + "." + the body'
        raise Unauthorized(f"trigger {trigger.id!r}: missing or wrong {_SIGNATURE_HEADER} (sha256=<hex HMAC of {signed}>)")
    if github:
        if not delivery:
            raise InvalidInput(f"trigger {trigger.id!r}: a GitHub delivery needs its {_GITHUB_DELIVERY_HEADER} header")
        return f"github:{delivery}"
    assert timestamp is not None
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > _MAX_TIMESTAMP_AGE_SECS:
        call.store().record_trigger_hit(trigger.id, "stale")
        raise Unauthorized(f"trigger {trigger.id!r}: X-Animus-Timestamp must be the Unix time in seconds, "
                           f"within {_MAX_TIMESTAMP_AGE_SECS} s of the server's clock")
    return "sig:" + presented.removeprefix("sha256=")


def _admission_refused(trigger: WebhookTrigger, admission: str) -> AnimusError:
    if admission == "replayed":
        return Conflict(f"trigger {trigger.id!r}: this delivery was already accepted (a replay)")
    return RateLimited(
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
    trigger = _trigger(call)
    delivery = _authenticate(call, trigger)
    payload = _payload(call.raw_body)
    store = call.store()
    # admission, task and queue entry commit together: concurrent calls cannot pass the limit, and a
    # call that fails after its admission (a bad GitHub payload) is neither counted nor remembered
    waking: list[Any] | None = None
    with store.transaction():
        admission = store.admit_trigger_hit(trigger.id, limit=trigger.config.rate_limit_per_minute, delivery=delivery)
        if admission == "admitted":
            if trigger.config.github is not None and call.headers.get("x-github-event", "") in services.PR_EVENTS:
                waking = _waiting_runs(call, store, trigger, payload)
            else:
                response, queued = _accept(call, store, trigger, payload)
    if admission != "admitted":
        raise _admission_refused(trigger, admission)
    if waking is not None:
        # after the admission committed: the message goes through DBOS's own connection to the database
        return _woke(services.wake_pr_runs(store, waking, delivery=delivery or "unnamed"))
    if queued:
        call.state.queue_changed()
    return response


def _waiting_runs(call: _Call, store: Store, trigger: WebhookTrigger, payload: dict[str, Any]) -> list[Any]:
    """The runs waiting on a pull request this pull request, review or check event names (the hit settled)."""
    event = call.headers.get("x-github-event", "")
    runs = services.runs_waiting_on(store, services.pr_mention(event, payload))
    detail = ", ".join(run.id for run in runs) or f"{event[:40]}: no run waits on a pull request it names"
    store.settle_trigger_hit(trigger.id, "woke" if runs else "ignored", detail)
    return runs


def _woke(ids: list[str]) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"ok": True, "woke": ids}, status_code=202)


def _accept(call: _Call, store: Store, trigger: WebhookTrigger, payload: dict[str, Any]) -> tuple[Any, bool]:
    from starlette.responses import JSONResponse

    if trigger.config.github is not None:
        event = call.headers.get("x-github-event", "")
        if event == "ping":
            store.settle_trigger_hit(trigger.id, "ignored", "ping")
            return JSONResponse({"ok": True, "ignored": "ping"}, status_code=200), False
        new, reason = _github_task(trigger, event, payload)
    else:
        new, reason = _plain_task(trigger, payload), ""
    if new is None:
        store.settle_trigger_hit(trigger.id, "ignored", reason)
        return JSONResponse({"ok": True, "ignored": reason}, status_code=202), False
    link = next((label for label in new.labels if label.startswith("gh-issue-")), None)
    if link is not None:
        from animus.store import TaskQuery

        existing = store.list_tasks(TaskQuery(labels=(link,), limit=1))
        if existing:
            store.settle_trigger_hit(trigger.id, "duplicate", existing[0].id)
            return JSONResponse({"ok": True, "task": present._task(existing[0]), "queued": False, "duplicate": True}), False
    task = store.create_task(new)
    queued = False
    if trigger.config.enqueue:
        services.enqueue(store, task.id, workflow=trigger.workflow_ref, variables={}, source="webhook")
        queued = True
    store.settle_trigger_hit(trigger.id, "created", task.id)
    return JSONResponse({"ok": True, "task": present._task(task), "queued": queued}, status_code=201), queued


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
             "Fire a webhook trigger (X-Animus-Timestamp: <unix s>, X-Animus-Signature: sha256=<hex HMAC of timestamp.body>;"
             " GitHub: X-Hub-Signature-256 and X-GitHub-Delivery; or the API token)",
             "triggers", body={"type": "object"}, status=201, auth="handler", before_body=_enabled_trigger),
)

"""Which store events become which notifications, and what a webhook or Slack message carries."""

from __future__ import annotations

import json
from typing import Any

from animus.store import OutboxItem

_RUN_ENDINGS = {"completed", "failed", "escalated", "merge_conflict", "cancelled"}


def notification_name(kind: str, data: dict[str, Any]) -> str | None:
    """The notification event for one ``events`` row (None: not something anyone is notified about)."""
    if kind == "run.status":
        to = str(data.get("to", ""))
        if to in _RUN_ENDINGS:
            return f"run.{to}"
        if to == "waiting_manual":
            return "gate.waiting"
        if to == "running" and data.get("from") == "pending":
            return "run.started"
        return None
    if kind == "task.created":
        return "task.created"
    if kind == "task.status" and data.get("to") in ("done", "blocked"):
        return f"task.{data['to']}"
    return None


def outbox_id(seq: int, notifier: str) -> str:
    """Deterministic per (event, notifier): a re-scan of the same event can never add a second row."""
    return f"evt-{seq}-{notifier}"


def _items_for(row: dict[str, Any], notifiers: list[Any], project: str) -> list[OutboxItem]:
    data = json.loads(row["data"] or "{}")
    name = notification_name(row["kind"], data)
    if name is None:
        return []
    payload = {"event": name, "subject": row["subject"], "at": row["at"], "seq": int(row["seq"]), "project": project,
               "data": data}
    return [
        OutboxItem(id=outbox_id(int(row["seq"]), n.id), notifier=n.id, event=name,
                   payload={**payload, "id": outbox_id(int(row["seq"]), n.id)})
        for n in notifiers
        if name in n.events
    ]


def _enrich(payload: dict[str, Any], store: Any) -> dict[str, Any]:
    """Add the run or task as it is now (best effort: a deleted task still notifies with what the event had)."""
    from animus.domain.errors import NotFound

    out = dict(payload)
    subject = str(payload.get("subject", ""))
    try:
        if payload["event"].startswith(("run.", "gate.")):
            run = store.get_run(subject)
            out["run"] = {k: v for k, v in run.to_dict().items() if k not in ("state", "vars")}
            out["task"] = store.get_task(run.task_id).to_dict()
        elif payload["event"].startswith("task."):
            out["task"] = store.get_task(subject).to_dict()
    except NotFound:
        pass
    return out


_ICON = {"run.completed": "✅", "run.failed": "❌", "run.escalated": "🚨", "run.merge_conflict": "⚠️",
         "run.cancelled": "⏹", "gate.waiting": "⏸", "run.started": "▶", "task.created": "🆕", "task.done": "✅",
         "task.blocked": "⛔"}


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body: one line of text, no markup taken from task text."""
    event = payload["event"]
    task = payload.get("task") or {}
    run = payload.get("run") or {}
    title = str(task.get("title", "")).replace("<", "‹").replace(">", "›").replace("&", "+")
    parts = [_ICON.get(event, "•"), f"*{event}*", str(payload.get("subject", ""))]
    if title:
        parts.append(f"— {title[:200]}")
    if run.get("failure_reason"):
        parts.append(f"({str(run['failure_reason'])[:300]})")
    if event == "gate.waiting":
        parts.append(f"`animus workflow approve {payload.get('subject')} --phase {run.get('current_phase') or 'PHASE'}`")
    return {"text": " ".join(parts)}

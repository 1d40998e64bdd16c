"""The durable notification outbox: scan new events into rows, deliver due rows, back off, dead-letter.

At least once: a row is marked delivered only after the receiver answered 2xx, so a crash between
the POST and the mark sends it again; the ``Idempotency-Key`` header (the row id) lets the receiver
drop the repeat. Rows are keyed by event seq + notifier, so re-scanning never duplicates them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from animus.notify._messages import _enrich, _items_for, slack_message

if TYPE_CHECKING:
    from animus.config import NotificationConfig, WorkflowConfig
    from animus.store import OutboxItem, Store

_MAX_BACKOFF_SECS = 3600.0
_SCAN_BATCH = 1000
_USER_AGENT = "animus-notify/1"


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did."""

    scanned: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "queued": self.queued, "delivered": self.delivered, "failed": self.failed,
                "dead": self.dead, "errors": self.errors}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def backoff_secs(base: float, attempts: int) -> float:
    """base, 2·base, 4·base … capped at an hour (``attempts`` counts the failed tries so far, ≥ 1)."""
    return float(min(_MAX_BACKOFF_SECS, base * (2 ** max(0, attempts - 1))))


def scan_events(store: Store, config: WorkflowConfig, now: datetime, project: str = "") -> tuple[int, int]:
    """Turn events after the scan cursor into outbox rows; returns (events scanned, rows added)."""
    notifiers = list(config.notifications)
    cursor = store.outbox_scan_cursor()
    scanned = added = 0
    while True:
        rows = store.events(cursor, _SCAN_BATCH)
        if not rows:
            return scanned, added
        items = [item for row in rows for item in _items_for(row, notifiers, project)] if notifiers else []
        cursor = int(rows[-1]["seq"])
        added += store.add_outbox(items, scanned_to=cursor, now=_iso(now))
        scanned += len(rows)
        if len(rows) < _SCAN_BATCH:
            return scanned, added


def _send(notifier: NotificationConfig, item: OutboxItem, payload: dict[str, Any]) -> str | None:
    """POST the item; None on a 2xx answer, else the reason it failed."""
    import httpx

    url = os.environ.get(notifier.url_env, "").strip()
    if not url:
        return f"{notifier.url_env} is not set in the daemon's environment"
    body = slack_message(payload) if notifier.type == "slack" else payload
    headers = {"Idempotency-Key": item.id, "User-Agent": _USER_AGENT, "X-Animus-Event": item.event}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=notifier.timeout_secs, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"


def deliver_due(store: Store, config: WorkflowConfig, now: datetime, *, limit: int = 100) -> DeliveryReport:
    """One outbox pass (the daemon's tick calls it): scan new events, then send every row that is due."""
    report = DeliveryReport()
    report.scanned, report.queued = scan_events(store, config, now)
    by_id = {n.id: n for n in config.notifications}
    for item in store.due_outbox(_iso(now), limit):
        notifier = by_id.get(item.notifier)
        attempts = item.attempts + 1
        if notifier is None:
            store.mark_outbox_failed(item.id, attempts=attempts, error=f"notifier {item.notifier!r} is no longer configured",
                               next_attempt_at=_iso(now), dead=True)
            report.dead += 1
            continue
        error = _send(notifier, item, _enrich(item.payload, store))
        if error is None:
            store.mark_outbox_delivered(item.id, attempts=attempts, now=_iso(now))
            report.delivered += 1
            continue
        dead = attempts >= notifier.max_attempts
        next_at = now + timedelta(seconds=backoff_secs(notifier.backoff_secs, attempts))
        store.mark_outbox_failed(item.id, attempts=attempts, error=error, next_attempt_at=_iso(next_at), dead=dead)
        report.errors.append(f"{item.id}: {error}")
        if dead:
            report.dead += 1
        else:
            report.failed += 1
    return report

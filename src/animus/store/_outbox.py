"""The notification outbox: one row per (event, notifier), delivered at least once, dead-lettered after N tries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from animus.store._db import Connection, _Row

if TYPE_CHECKING:
    from animus.store._store import Store

OUTBOX_STATUSES: Final = ("pending", "delivered", "dead")
NOTIFY_CURSOR: Final = "outbox.scan_seq"
SOURCE_CURSOR: Final = "outbox.source_scan_seq"
SOURCE_NOTIFIER_PREFIX: Final = "source:"


@dataclass(frozen=True)
class OutboxItem:
    """A notification to send: ``id`` is deterministic (event seq + notifier), so a re-scan never duplicates it."""

    id: str
    notifier: str
    event: str
    payload: dict[str, Any]
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: str = ""
    last_error: str | None = None
    created_at: str = ""
    delivered_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notifier": self.notifier,
            "event": self.event,
            "payload": self.payload,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
        }


def _item(row: _Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        notifier=row["notifier"],
        event=row["event"],
        payload=json.loads(row["payload"] or "{}"),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )


def _scan_cursor(conn: Connection, cursor: str = NOTIFY_CURSOR) -> int:
    """The last ``events.seq`` already turned into outbox rows (by the notifiers' scan, or the sources')."""
    rows = conn.execute("SELECT value FROM counters WHERE name = :n", {"n": cursor})
    return int(rows[0]["value"]) if rows else 0


def _add_outbox(conn: Connection, items: Iterable[OutboxItem], *, scanned_to: int, now: str, cursor: str = NOTIFY_CURSOR) -> int:
    """Insert the items that are not there yet and advance the scan cursor, in one transaction; returns how many were new."""
    added = 0
    with conn.transaction():
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (:n, 0) ON CONFLICT (name) DO NOTHING", {"n": cursor}
        )
        for item in items:
            rows = conn.execute(
                """INSERT INTO outbox (id, notifier, event, payload, status, attempts, next_attempt_at, created_at)
                   VALUES (:id, :notifier, :event, :payload, 'pending', 0, :at, :at)
                   ON CONFLICT (id) DO NOTHING RETURNING id""",
                {"id": item.id, "notifier": item.notifier, "event": item.event,
                 "payload": json.dumps(item.payload, ensure_ascii=False, sort_keys=True), "at": now},
            )
            added += len(rows)
        conn.execute(
            "UPDATE counters SET value = :v WHERE name = :n AND value < :v", {"v": scanned_to, "n": cursor}
        )
    return added


def _due_outbox(conn: Connection, now: str, limit: int = 100, *, sources: bool = False) -> list[OutboxItem]:
    which = "LIKE" if sources else "NOT LIKE"
    rows = conn.execute(
        f"""SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= :now AND notifier {which} :prefix
            ORDER BY next_attempt_at, id LIMIT :limit""",
        {"now": now, "limit": limit, "prefix": SOURCE_NOTIFIER_PREFIX + "%"},
    )
    return [_item(r) for r in rows]


def _mark_delivered(conn: Connection, item_id: str, *, attempts: int, now: str) -> None:
    conn.execute(
        """UPDATE outbox SET status = 'delivered', attempts = :a, delivered_at = :now, last_error = NULL
           WHERE id = :id AND status = 'pending'""",
        {"a": attempts, "now": now, "id": item_id},
    )


def _mark_failed(conn: Connection, item_id: str, *, attempts: int, error: str, next_attempt_at: str, dead: bool) -> None:
    conn.execute(
        """UPDATE outbox SET status = :s, attempts = :a, last_error = :e, next_attempt_at = :next
           WHERE id = :id AND status = 'pending'""",
        {"s": "dead" if dead else "pending", "a": attempts, "e": error[:2000], "next": next_attempt_at, "id": item_id},
    )


def outbox_summary(store: Store) -> dict[str, Any]:
    """Counts by status, the oldest pending item's due time and the latest dead letters (for `animus status`)."""
    conn = store.conn
    counts = {s: 0 for s in OUTBOX_STATUSES}
    for row in conn.execute("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"):
        counts[str(row["status"])] = int(row["n"])
    due = conn.execute("SELECT MIN(next_attempt_at) AS due FROM outbox WHERE status = 'pending'")
    dead = conn.execute(
        "SELECT id, notifier, event, attempts, last_error FROM outbox WHERE status = 'dead' ORDER BY created_at DESC LIMIT 5"
    )
    return {**counts, "next_attempt_at": due[0]["due"] if due else None, "dead_letters": [dict(r) for r in dead]}


def _pending_by_notifier(conn: Connection, prefix: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT notifier, COUNT(*) AS n FROM outbox WHERE status = 'pending' AND notifier LIKE :p GROUP BY notifier",
        {"p": prefix + "%"},
    )
    return {str(r["notifier"]): int(r["n"]) for r in rows}

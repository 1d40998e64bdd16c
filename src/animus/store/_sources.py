"""Task sources in the database: the link of each upstream item to its one task, and each source's sync state.

``source_items`` has the primary key (source, external id): inserting the link is what makes an
upstream item a task, so a second sync, a racing daemon or a replay after a kill -9 finds the link
and never creates a second task. The link, the task and its queue entry commit in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from animus.store._db import Connection, _Row
from animus.store._tasks import now_iso


@dataclass(frozen=True)
class SourceLink:
    """One upstream item and the task it became."""

    source_id: str
    external_id: str
    task_id: str
    key: str = ""
    url: str = ""
    fingerprint: str = ""
    upstream_open: bool = True
    upstream_updated_at: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source_id, "external_id": self.external_id, "task_id": self.task_id, "key": self.key,
                "url": self.url, "upstream_open": self.upstream_open, "upstream_updated_at": self.upstream_updated_at,
                "created_at": self.created_at, "updated_at": self.updated_at}


@dataclass(frozen=True)
class SourceState:
    """Where a source's sync stands: the durable cursor, the last outcome, counts, when to poll next."""

    source_id: str
    cursor: str | None = None
    last_sync_at: str | None = None
    last_ok_at: str | None = None
    last_error: str | None = None
    errors_in_a_row: int = 0
    next_poll_at: str = ""
    imported: int = 0
    updated: int = 0
    cancelled: int = 0
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source_id, "cursor": self.cursor, "last_sync_at": self.last_sync_at,
                "last_ok_at": self.last_ok_at, "last_error": self.last_error, "errors_in_a_row": self.errors_in_a_row,
                "next_poll_at": self.next_poll_at or None, "imported": self.imported, "updated": self.updated,
                "cancelled": self.cancelled, "problems": list(self.problems)}


def _link(row: _Row) -> SourceLink:
    return SourceLink(
        source_id=row["source_id"], external_id=row["external_id"], task_id=row["task_id"], key=row["key"],
        url=row["url"], fingerprint=row["fingerprint"], upstream_open=bool(row["upstream_open"]),
        upstream_updated_at=row["upstream_updated_at"], data=json.loads(row["data"] or "{}"),
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _claim_link(conn: Connection, source_id: str, external_id: str, task_id: str, **fields: Any) -> bool:
    """Insert the link unless the item is linked already (then False: someone else imported it)."""
    at = now_iso()
    rows = conn.execute(
        """INSERT INTO source_items (source_id, external_id, task_id, key, url, fingerprint, upstream_open,
                                     upstream_updated_at, data, created_at, updated_at)
           VALUES (:s, :e, :t, :key, :url, :fp, :open, :up, :data, :at, :at)
           ON CONFLICT (source_id, external_id) DO NOTHING RETURNING task_id""",
        {"s": source_id, "e": external_id, "t": task_id, "key": fields.get("key", ""), "url": fields.get("url", ""),
         "fp": fields.get("fingerprint", ""), "open": 1 if fields.get("upstream_open", True) else 0,
         "up": fields.get("upstream_updated_at", ""), "data": json.dumps(fields.get("data") or {}, sort_keys=True),
         "at": at},
    )
    return bool(rows)


def _get_link(conn: Connection, source_id: str, external_id: str) -> SourceLink | None:
    rows = conn.execute("SELECT * FROM source_items WHERE source_id = :s AND external_id = :e",
                        {"s": source_id, "e": external_id})
    return _link(rows[0]) if rows else None


def _link_for_task(conn: Connection, task_id: str) -> SourceLink | None:
    rows = conn.execute("SELECT * FROM source_items WHERE task_id = :t", {"t": task_id})
    return _link(rows[0]) if rows else None


def _links(conn: Connection, source_id: str) -> list[SourceLink]:
    rows = conn.execute("SELECT * FROM source_items WHERE source_id = :s ORDER BY created_at, external_id",
                        {"s": source_id})
    return [_link(r) for r in rows]


def _update_link(conn: Connection, source_id: str, external_id: str, **fields: Any) -> None:
    allowed = ("key", "url", "fingerprint", "upstream_open", "upstream_updated_at", "data")
    sets, params = [], {"s": source_id, "e": external_id, "at": now_iso()}
    for name in allowed:
        if name in fields:
            value = fields[name]
            if name == "data":
                value = json.dumps(value or {}, sort_keys=True)
            elif name == "upstream_open":
                value = 1 if value else 0
            sets.append(f"{name} = :{name}")
            params[name] = value
    if sets:
        conn.execute(f"UPDATE source_items SET {', '.join(sets)}, updated_at = :at WHERE source_id = :s AND external_id = :e",
                     params)


def _state(row: _Row | None, source_id: str) -> SourceState:
    if row is None:
        return SourceState(source_id=source_id)
    return SourceState(
        source_id=row["source_id"], cursor=row["cursor"], last_sync_at=row["last_sync_at"], last_ok_at=row["last_ok_at"],
        last_error=row["last_error"], errors_in_a_row=int(row["errors_in_a_row"]), next_poll_at=row["next_poll_at"],
        imported=int(row["imported"]), updated=int(row["updated"]), cancelled=int(row["cancelled"]),
        problems=tuple(json.loads(row["problems"] or "[]")),
    )


def _get_state(conn: Connection, source_id: str) -> SourceState:
    rows = conn.execute("SELECT * FROM source_state WHERE source_id = :s", {"s": source_id})
    return _state(rows[0] if rows else None, source_id)


def _save_state(conn: Connection, state: SourceState) -> None:
    conn.execute(
        """INSERT INTO source_state (source_id, cursor, last_sync_at, last_ok_at, last_error, errors_in_a_row,
                                     next_poll_at, imported, updated, cancelled, problems)
           VALUES (:s, :cursor, :sync, :ok, :err, :n, :next, :imp, :upd, :can, :problems)
           ON CONFLICT (source_id) DO UPDATE SET cursor = :cursor, last_sync_at = :sync, last_ok_at = :ok,
               last_error = :err, errors_in_a_row = :n, next_poll_at = :next, imported = :imp, updated = :upd,
               cancelled = :can, problems = :problems""",
        {"s": state.source_id, "cursor": state.cursor, "sync": state.last_sync_at, "ok": state.last_ok_at,
         "err": state.last_error, "n": state.errors_in_a_row, "next": state.next_poll_at, "imp": state.imported,
         "upd": state.updated, "can": state.cancelled, "problems": json.dumps(list(state.problems)[:100])},
    )


def _link_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute("SELECT source_id, COUNT(*) AS n FROM source_items GROUP BY source_id")
    return {str(r["source_id"]): int(r["n"]) for r in rows}


_SOURCES_LOCK = 4177014


def _try_sources_lock(conn: Connection) -> bool:
    """On PostgreSQL, one daemon of a fleet syncs sources and tells them how runs stand: this session-level
    advisory lock (released when the holder's connection ends, a kill -9 included) says which. SQLite: one daemon."""
    if conn.dialect != "postgresql":
        return True
    rows = conn.execute("SELECT pg_try_advisory_lock(:k) AS got", {"k": _SOURCES_LOCK})
    return bool(rows and rows[0]["got"])

"""Status back to the trackers, through the durable outbox.

The scan turns each run-status event of a task that came from a source into one outbox row
(``src-<event seq>-<source>``, so a re-scan never adds a second). Delivering a row tells the source
how the run stands NOW (read from the database, not from the event), so rows delivered late, twice
or out of order all say the same true thing; and every adapter's ``report`` looks before it writes
(the comment with the run's marker, the label, the state), so a crash between the tracker's answer
and the row's ``delivered`` mark repeats nothing. Rows of one task are delivered in order, and a
failed row holds the later rows of its task back until it succeeds or is dead-lettered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from animus.domain.errors import AnimusError, NotFound
from animus.domain.runs import RunStatus
from animus.procs import fault_point
from animus.sources._types import SourceRateLimited, StatusKind, StatusUpdate

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.domain.runs import WorkflowRun
    from animus.sources._types import SourceAdapter
    from animus.store import OutboxItem, Store

_SCAN_BATCH = 1000
_MAX_ATTEMPTS = 12
_BACKOFF_SECS = 15.0
_MAX_BACKOFF_SECS = 3600.0

_KIND: dict[RunStatus, StatusKind] = {
    RunStatus.PENDING: "running", RunStatus.RUNNING: "running", RunStatus.WAITING_MANUAL: "waiting_gate",
    RunStatus.COMPLETED: "landed", RunStatus.FAILED: "failed", RunStatus.MERGE_CONFLICT: "failed",
    RunStatus.ESCALATED: "blocked", RunStatus.CANCELLED: "cancelled",
}
_WORDS: dict[str, str] = {
    "running": "🏃 running", "waiting_gate": "⏸ waiting for a human at a gate", "waiting_pr": "👀 waiting on its pull request",
    "landed": "✅ landed", "failed": "❌ failed", "blocked": "⛔ blocked (needs a human)", "cancelled": "⏹ cancelled",
}


@dataclass
class StatusReport:
    """What one status pass did."""

    scanned: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def run_kind(run: WorkflowRun) -> StatusKind:
    """How a run stands, in the words every source understands."""
    if run.status.value == "waiting_pr":  # the PR loop's status (not every build knows it as a member)
        return "waiting_pr"
    return _KIND.get(run.status, "running")


def status_summary(run: WorkflowRun, kind: StatusKind) -> str:
    """The text of a run's status comment: what it is doing, where, and what to do about it."""
    lines = [f"**animus** run `{run.id}` for {run.task_id}: {_WORDS.get(kind, kind)}"]
    if run.current_phase and kind in ("running", "waiting_gate", "failed", "blocked"):
        lines.append(f"- phase: `{run.current_phase}`")
    if run.pr_url:
        lines.append(f"- pull request: {run.pr_url}")
    if run.landed_sha and kind == "landed":
        lines.append(f"- landed as `{run.landed_sha[:12]}`")
    if run.failure_reason and kind in ("failed", "blocked", "cancelled"):
        lines.append(f"- reason: {run.failure_reason[:500]}")
    if kind == "waiting_gate" and run.current_phase:
        lines.append(f"- approve with `animus workflow approve {run.id} --phase {run.current_phase}`")
    if kind in ("failed", "blocked"):
        lines.append(f"- continue with `animus workflow resume {run.id}`")
    if run.cost_usd:
        lines.append(f"- spent so far: ${run.cost_usd:.2f}")
    return "\n".join(lines)


def scan_status_events(store: Store, config: WorkflowConfig, now: datetime) -> tuple[int, int]:
    """Events after the sources' scan cursor → outbox rows for the tasks that came from a source."""
    from animus.store import SOURCE_CURSOR, SOURCE_NOTIFIER_PREFIX, OutboxItem

    configured = {source.id for source in config.sources}
    cursor = store.outbox_scan_cursor(SOURCE_CURSOR)
    scanned = added = 0
    while True:
        rows = store.events(cursor, _SCAN_BATCH)
        if not rows:
            return scanned, added
        items = []
        for row in rows:
            if row["kind"] != "run.status" or not configured:
                continue
            try:
                run = store.get_run(str(row["subject"]))
            except NotFound:
                continue
            link = store.source_item_for_task(run.task_id)
            if link is None or link.source_id not in configured:
                continue
            data = json.loads(row["data"] or "{}")
            item_id = f"src-{int(row['seq'])}-{link.source_id}"
            items.append(OutboxItem(id=item_id, notifier=SOURCE_NOTIFIER_PREFIX + link.source_id, event="run.status", payload={
                "id": item_id, "run_id": run.id, "task_id": run.task_id, "external_id": link.external_id,
                "to": data.get("to"), "seq": int(row["seq"]),
            }))
        cursor = int(rows[-1]["seq"])
        added += store.add_outbox(items, scanned_to=cursor, now=_iso(now), cursor=SOURCE_CURSOR)
        scanned += len(rows)
        if len(rows) < _SCAN_BATCH:
            return scanned, added


def deliver_status(store: Store, config: WorkflowConfig, adapters: dict[str, SourceAdapter], now: datetime,
                   *, limit: int = 100) -> StatusReport:
    """Scan, then hand every due row to its source's adapter (in event order per task)."""
    from animus.store import SOURCE_NOTIFIER_PREFIX

    report = StatusReport()
    report.scanned, report.queued = scan_status_events(store, config, now)
    held: set[str] = set()  # tasks with an earlier row not delivered: their later rows wait
    due = sorted(store.due_outbox(_iso(now), limit, sources=True), key=lambda i: int(i.payload.get("seq", 0)))
    for item in due:
        task_id = str(item.payload.get("task_id"))
        if task_id in held:
            continue
        source_id = item.notifier.removeprefix(SOURCE_NOTIFIER_PREFIX)
        adapter = adapters.get(source_id)
        attempts = item.attempts + 1
        if adapter is None:
            store.mark_outbox_failed(item.id, attempts=attempts, error=f"source {source_id!r} is no longer configured",
                                     next_attempt_at=_iso(now), dead=True)
            report.dead += 1
            continue
        try:
            update = _update_for(store, item)
            if update is not None:
                fault_point("animus.sources.report", "before")
                adapter.report(update)
                fault_point("animus.sources.report", "after")  # written upstream, not yet marked delivered
        except AnimusError as err:
            held.add(task_id)
            _failed(store, item, attempts, err, now, report)
            continue
        store.mark_outbox_delivered(item.id, attempts=attempts, now=_iso(now))
        report.delivered += 1
    return report


def _update_for(store: Store, item: OutboxItem) -> StatusUpdate | None:
    try:
        run = store.get_run(str(item.payload["run_id"]))
    except NotFound:
        return None
    kind = run_kind(run)
    target = None
    merge = (run.plan or {}).get("merge") or {}
    if isinstance(merge, dict):
        target = merge.get("target_branch")
    return StatusUpdate(external_id=str(item.payload["external_id"]), task_id=run.task_id, run_id=run.id, kind=kind,
                        summary=status_summary(run, kind), pr_url=run.pr_url, target_branch=target,
                        data={"status": run.status.value})


def _failed(store: Store, item: OutboxItem, attempts: int, err: AnimusError, now: datetime, report: StatusReport) -> None:
    dead = attempts >= _MAX_ATTEMPTS
    wait = min(_MAX_BACKOFF_SECS, _BACKOFF_SECS * (2 ** (attempts - 1)))
    next_at = now + timedelta(seconds=wait)
    reset_at = getattr(err, "reset_at", None)
    if isinstance(err, SourceRateLimited) or isinstance(reset_at, int | float):
        dead = False  # a rate limit is not the row's fault: wait for the reset, do not count toward dead
        next_at = max(next_at, datetime.fromtimestamp(float(reset_at or 0), now.tzinfo))
    store.mark_outbox_failed(item.id, attempts=attempts, error=err.message, next_attempt_at=_iso(next_at), dead=dead)
    report.errors.append(f"{item.id}: {err.message}")
    if dead:
        report.dead += 1
    else:
        report.failed += 1

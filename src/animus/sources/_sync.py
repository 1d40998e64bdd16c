"""One sync of one source: list upstream, make each new item exactly one task, follow edits and closures.

Exactly once: an item's link row (primary key source + external id), its task and its queue entry
are written in one transaction, and the link goes first: a racing sync (another thread, another
daemon on the same PostgreSQL) or a replay after a kill -9 in the middle finds the link and moves on.
The cursor is saved only after every item of a listing is recorded, so a crash re-lists, never skips.

A task that has not started (no run yet, status backlog or ready) follows its item: an upstream edit
of title, description, labels or priority changes it; a closed or deleted item cancels it. A task
that has started is the run's: upstream edits no longer touch it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from animus.domain.errors import AnimusError
from animus.domain.tasks import Priority, TaskStatus, TaskType
from animus.procs import fault_point
from animus.sources._types import ExternalItem

if TYPE_CHECKING:
    from animus.config import SourceConfig, WorkflowConfig
    from animus.sources._types import SourceAdapter
    from animus.store import SourceLink, SourceState, Store

_MAX_BACKOFF_SECS = 3600.0
_NOT_STARTED = (TaskStatus.BACKLOG, TaskStatus.READY)
_MAX_TITLE = 500
_MAX_DESCRIPTION = 60_000


@dataclass
class SyncReport:
    """What one sync did (also what `animus source sync --json` prints)."""

    source: str
    ok: bool = True
    listed: int = 0
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    next_poll_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "ok": self.ok, "listed": self.listed, "imported": self.imported,
                "updated": self.updated, "cancelled": self.cancelled, "problems": self.problems, "error": self.error,
                "next_poll_at": self.next_poll_at}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def backoff_secs(base: float, errors_in_a_row: int) -> float:
    """poll, 2·poll, 4·poll … after consecutive failures, capped at an hour."""
    return float(min(_MAX_BACKOFF_SECS, base * (2 ** max(0, errors_in_a_row - 1))))


def sync_source(store: Store, config: WorkflowConfig, source: SourceConfig,
                adapter: SourceAdapter, *, now: datetime | None = None, full: bool = False) -> SyncReport:
    """List the source and record what changed; never raises for the tracker's faults (they go in the report and state)."""
    now = now or datetime.now(UTC)
    report = SyncReport(source=source.id)
    state = store.source_state(source.id)
    cursor = None if full else state.cursor
    try:
        result = adapter.fetch(cursor)
    except AnimusError as err:
        reset_at = getattr(err, "reset_at", None)  # a rate limit (SourceRateLimited, the GitHub client's) says when
        wait_until = datetime.fromtimestamp(reset_at, UTC) if isinstance(reset_at, int | float) else None
        return _failed(store, report, state, now, err.message, wait_until, source.poll_secs)
    report.listed = len(result.items)
    report.problems = list(result.problems)
    seen: set[str] = set()
    for item in result.items:
        seen.add(item.external_id)
        _apply(store, config, source, item, report)
    if result.complete:
        for link in store.source_items(source.id):
            if link.external_id not in seen and link.upstream_open:
                _gone(store, adapter, link, report)
    _link_dependencies(store, source.id, result.items)
    next_poll = now + timedelta(seconds=source.poll_secs)
    report.next_poll_at = _iso(next_poll)
    fault_point("animus.sources.cursor", "before")
    store.save_source_state(replace(
        state, cursor=result.cursor if result.cursor is not None else (None if full else state.cursor),
        last_sync_at=_iso(now), last_ok_at=_iso(now), last_error=None, errors_in_a_row=0, next_poll_at=_iso(next_poll),
        imported=state.imported + len(report.imported), updated=state.updated + len(report.updated),
        cancelled=state.cancelled + len(report.cancelled), problems=tuple(result.problems),
    ))
    return report


def _failed(store: Store, report: SyncReport, state: SourceState, now: datetime, message: str,
            wait_until: datetime | None, poll_secs: float) -> SyncReport:
    """Keep the cursor, count the failure, and poll again after the backoff (or the tracker's reset time)."""
    errors = state.errors_in_a_row + 1
    report.ok, report.error = False, message
    next_poll = max(wait_until or now, now + timedelta(seconds=backoff_secs(poll_secs, errors)))
    report.next_poll_at = _iso(next_poll)
    store.save_source_state(replace(state, last_sync_at=_iso(now), last_error=message[:2000], errors_in_a_row=errors,
                                    next_poll_at=_iso(next_poll)))
    return report


def _clean_label(label: str) -> str:
    return re.sub(r"[\s,]+", "-", label.strip())[:100]


def _fields(source: SourceConfig, item: ExternalItem) -> dict[str, Any]:
    """The task fields an item gives: text cut to the store's limits, labels made valid, the item's link in the description."""
    labels = tuple(dict.fromkeys(lb for lb in (_clean_label(x) for x in item.labels) if lb))
    description = item.description[:_MAX_DESCRIPTION]
    if item.url and source.type != "markdown":
        description = f"{item.url}\n\n{description}".strip()
    priority = _enum(Priority, item.priority) or Priority.MEDIUM
    return {"title": (item.title.strip() or item.key or item.external_id)[:_MAX_TITLE], "description": description,
            "labels": labels, "priority": priority, "type": _enum(TaskType, item.type) or TaskType.FEATURE}


def _enum(kind: type[Any], value: str | None) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _apply(store: Store, config: WorkflowConfig, source: SourceConfig,
           item: ExternalItem, report: SyncReport) -> None:
    link = store.source_item(source.id, item.external_id)
    if link is None:
        if item.open:
            try:
                task_id = _import(store, config, source, item)
            except _Lost:
                return
            if task_id:
                report.imported.append(task_id)
                fault_point("animus.sources.import", "after")
        return
    task = store.get_task(link.task_id)
    untouched = task.status in _NOT_STARTED and not store.list_runs(task_id=task.id, limit=1)
    if untouched and not item.open:
        _cancel(store, task.id, f"{item.key or item.external_id} was closed upstream")
        report.cancelled.append(task.id)
    elif untouched and item.fingerprint() != link.fingerprint:
        _update(store, source, task.id, item, task.labels)
        report.updated.append(task.id)
    store.update_source_item(source.id, item.external_id, fingerprint=item.fingerprint(), upstream_open=item.open,
                             upstream_updated_at=item.updated_at, url=item.url, key=item.key)


def _import(store: Store, config: WorkflowConfig, source: SourceConfig,
            item: ExternalItem) -> str | None:
    """Link, task and queue entry in one transaction; None when another sync linked the item first."""
    from animus import services
    from animus.store import NewTask

    fields = _fields(source, item)
    workflow = source.workflow_ref
    with store.transaction():
        if store.source_item(source.id, item.external_id) is not None:
            return None
        task = store.create_task(NewTask(
            title=fields["title"], description=fields["description"], type=fields["type"], priority=fields["priority"],
            status=TaskStatus.READY if source.enqueue else TaskStatus.BACKLOG, labels=fields["labels"], workflow=workflow,
        ))
        if not store.claim_source_item(source.id, item.external_id, task.id, key=item.key, url=item.url,
                                       fingerprint=item.fingerprint(), upstream_open=item.open,
                                       upstream_updated_at=item.updated_at, data=item.data):
            raise _Lost(f"{item.key or item.external_id} was linked by another sync")  # rolls the task back: the item is someone else's now
        if source.enqueue:
            services.enqueue(store, task.id, workflow=workflow, variables={}, source="source", config=config)
    return task.id


class _Lost(AnimusError):
    code = "source_item_linked_elsewhere"


def _update(store: Store, source: SourceConfig, task_id: str, item: ExternalItem,
            labels_now: tuple[str, ...]) -> None:
    from animus.store import TaskPatch

    fields = _fields(source, item)
    wanted = set(fields["labels"])
    store.update_task(task_id, TaskPatch(
        title=fields["title"], description=fields["description"], priority=fields["priority"], type=fields["type"],
        add_labels=tuple(sorted(wanted - set(labels_now))),
        remove_labels=tuple(sorted(set(labels_now) - wanted)),
    ))


def _cancel(store: Store, task_id: str, reason: str) -> None:
    with store.transaction():
        if store.queue_entry(task_id) is not None:
            store.remove_queue_entry(task_id, "cancelled upstream")
        store.set_status(task_id, TaskStatus.CANCELLED, reason=reason)


def _gone(store: Store, adapter: SourceAdapter, link: SourceLink, report: SyncReport) -> None:
    """An item missing from a complete listing: ask for it; deleted or closed cancels a task that has not started."""
    try:
        item = adapter.get(link.external_id)
    except AnimusError:
        return  # not sure it is gone: look again at the next full listing
    if item is not None and item.open:
        return
    task = store.get_task(link.task_id)
    if task.status in _NOT_STARTED and not store.list_runs(task_id=task.id, limit=1):
        _cancel(store, task.id, f"{link.key or link.external_id} was {'deleted' if item is None else 'closed'} upstream")
        report.cancelled.append(task.id)
    store.update_source_item(link.source_id, link.external_id, upstream_open=False)


def _link_dependencies(store: Store, source_id: str, items: list[ExternalItem]) -> None:
    """``depends_on`` between items of one source become task dependencies (once both are tasks)."""
    from animus.domain.errors import Conflict, InvalidInput, NotFound

    for item in items:
        if not item.depends_on:
            continue
        link = store.source_item(source_id, item.external_id)
        if link is None:
            continue
        task = store.get_task(link.task_id)
        for other in item.depends_on:
            target = store.source_item(source_id, other)
            if target is None or target.task_id in task.dependencies or task.status not in _NOT_STARTED:
                continue
            try:
                store.add_dependency(task.id, target.task_id)
            except (Conflict, InvalidInput, NotFound):
                pass  # a cycle or a task gone: the sync report lists items, not every edge

"""Cron schedules: which minute is due, and firing it exactly once (the ``schedule_fires`` key decides).

Rules (UTC, 5-field cron): a schedule is due for the latest cron minute at or before now that is
later than its last fire. ``catch_up: true`` fires that minute even if it is in the past (once, not
once per missed minute); ``catch_up: false`` fires only when it is the current minute. A schedule
that never fired starts at the current minute (adding a schedule does not replay the past).

Firing claims the ``(schedule_id, minute)`` row and acts in the same transaction, so a restart in
the same minute, a crash mid-fire, or a second daemon on the same database never fires it twice.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from animus.daemon._dispatch import _kv
from animus.domain.tasks import Priority, TaskStatus, TaskType
from animus.store import NewTask

if TYPE_CHECKING:
    from animus.config import ScheduleConfig, WorkflowConfig
    from animus.store import Store

FAKE_NOW_ENV = "ANIMUS_FAKE_NOW"
_MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
_log = logging.getLogger("animus.daemon")


def scheduler_now() -> datetime:
    """Now in UTC; the test hook ``ANIMUS_FAKE_NOW`` (ISO 8601 or epoch seconds) overrides it."""
    fake = os.environ.get(FAKE_NOW_ENV, "").strip()
    if fake:
        try:
            return datetime.fromtimestamp(float(fake), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(fake)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _minute_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_MINUTE_FORMAT)


def latest_cron_minute(cron: str, now: datetime) -> datetime:
    """The latest minute matching ``cron`` at or before ``now``."""
    from croniter import croniter  # type: ignore[import-untyped]

    floor = now.astimezone(UTC).replace(second=0, microsecond=0)
    previous: datetime = croniter(cron, floor + timedelta(minutes=1)).get_prev(datetime)
    return previous


def due_minute(schedule: ScheduleConfig, last_fired: str | None, now: datetime) -> str | None:
    """The minute this schedule should fire for now, or None."""
    if not schedule.enabled:
        return None
    latest = _minute_key(latest_cron_minute(schedule.cron, now))
    current = _minute_key(now)
    if last_fired is not None and latest <= last_fired:
        return None
    if latest == current:
        return latest
    if last_fired is None or not schedule.catch_up:
        return None
    return latest


def fire_due(store: Store, config: WorkflowConfig, now: datetime | None = None) -> list[dict[str, Any]]:
    """Fire every due schedule once; returns what each fire did (empty when nothing was due)."""
    moment = now or scheduler_now()
    fired = []
    for schedule in config.schedules:
        minute = due_minute(schedule, store.last_fire(schedule.id), moment)
        if minute is None:
            continue
        result = fire(store, config, schedule, minute)
        if result is not None:
            fired.append(result)
    return fired


def fire(store: Store, config: WorkflowConfig, schedule: ScheduleConfig, minute: str) -> dict[str, Any] | None:
    """Claim ``(schedule, minute)`` and create + enqueue its task in one transaction; None if already fired."""
    with store.transaction():
        if not store.claim_fire(schedule.id, minute):
            return None
        if schedule.task is not None:
            spec = schedule.task
            new = NewTask(
                title=spec.title, description=spec.description, type=TaskType(spec.type), priority=Priority(spec.priority),
                status=TaskStatus.READY, labels=tuple(spec.labels),
            )
            workflow = None
        else:
            workflow = schedule.workflow_ref
            new = NewTask(title=f"Scheduled {schedule.id} ({minute} UTC)", status=TaskStatus.READY, workflow=workflow,
                          description=f"Created by schedule {schedule.id!r} (cron {schedule.cron!r}) for {minute} UTC.")
        task = store.create_task(new)
        store.enqueue(task.id, workflow=workflow, source="schedule")
        result = {"schedule_id": schedule.id, "minute": minute, "task_id": task.id, "workflow": workflow, "enqueued": True}
        store.set_fire_result(schedule.id, minute, result)
    _log.info(_kv(event="schedule_fired", schedule=schedule.id, minute=minute, task=task.id))
    return result

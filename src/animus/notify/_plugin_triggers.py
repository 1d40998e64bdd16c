"""Plugin triggers: a ``trigger_backend`` plugin watches (``trigger/watch``), sends ``trigger/event``, and hears ``trigger/ack``.

Exactly one task per event: the event's ``event_id`` is the idempotency key. Its delivery record
(``trigger_deliveries``, as for webhooks), the task and its queue entry commit in one transaction,
and only then is the event acked. A kill between the commit and the ack leaves the event unacked,
so the plugin sends it again; the delivery record turns that second delivery into a duplicate that
is acked without a second task.

Notifications arrive on the plugin client's reader thread; they only go into a queue there, and the
daemon's trigger thread (``poll``) turns them into tasks with its own store connection.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from animus.domain.errors import AnimusError, InvalidInput
from animus.procs import fault_point

if TYPE_CHECKING:
    from animus.config import PluginTrigger, WorkflowConfig
    from animus.plugins import PluginHost, Subscriber
    from animus.store import Store

#: the plugin kind a ``type: plugin`` trigger must be
TRIGGER_BACKEND_KIND = "trigger_backend"
_log = logging.getLogger("animus.daemon")
_MAX_TITLE = 500
_MAX_DESCRIPTION = 60_000
_PRIORITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class TriggerFired:
    """One ``trigger/event`` handled: the task it created (None for a duplicate), and whether the ack went through."""

    trigger_id: str
    event_id: str
    task_id: str | None
    duplicate: bool
    acked: bool
    queued: bool


class PluginTriggers:
    """The plugin triggers of one daemon: keeps each watched (again after a plugin restart), turns events into tasks."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._subscribed: set[str] = set()
        self._watched: dict[str, int] = {}  # trigger id → the pid of the plugin process told to watch
        self._refused: dict[str, str] = {}  # trigger id → the last error logged (logged once, not every pass)

    def poll(self, store: Store, config: WorkflowConfig) -> list[TriggerFired]:
        """Watch every enabled plugin trigger (start its plugin if needed), then handle the events that came in."""
        triggers = {t.id: t for t in config.triggers if t.type == "plugin" and t.enabled}
        for trigger in triggers.values():
            try:
                self._ensure_watch(trigger)
                self._refused.pop(trigger.id, None)
            except AnimusError as err:
                if self._refused.get(trigger.id) != err.message:
                    self._refused[trigger.id] = err.message
                    _log.error("plugin_trigger_watch_failed trigger=%s error=%s", trigger.id, err.message)
        fired: list[TriggerFired] = []
        while True:
            try:
                plugin, params = self._events.get_nowait()
            except queue.Empty:
                return fired
            found = triggers.get(str(params.get("trigger_id"))) if isinstance(params, dict) else None
            if found is None or found.config.plugin != plugin:
                _log.warning("plugin_trigger_event_dropped plugin=%s reason=%s", plugin, "no enabled plugin trigger of that id")
                continue
            trigger = found
            event_id = params.get("event_id")
            if not isinstance(event_id, str | int) or isinstance(event_id, bool) or not str(event_id).strip():
                _log.warning("plugin_trigger_event_dropped plugin=%s trigger=%s reason=%s", plugin, trigger.id, "no event_id")
                continue
            fired.append(self.accept(store, trigger, str(event_id), params))

    def accept(self, store: Store, trigger: PluginTrigger, event_id: str, event: dict[str, Any]) -> TriggerFired:
        """One event → at most one task (its delivery record, task and queue entry in one transaction), then the ack."""
        from animus import services

        task_id, queued = None, False
        with store.transaction():
            admission = store.admit_trigger_hit(trigger.id, limit=sys.maxsize, delivery=f"event:{event_id}")
            duplicate = admission == "replayed"
            if not duplicate:
                task = store.create_task(_task_for(trigger, event_id, event))
                task_id = task.id
                if trigger.config.enqueue:
                    services.enqueue(store, task.id, workflow=trigger.workflow_ref, variables={}, source="plugin_trigger")
                    queued = True
                store.settle_trigger_hit(trigger.id, "created", task.id)
        fault_point("animus.triggers.ack", "before")  # committed, not acked: the plugin sends it again
        acked = True
        try:
            self.host.call(trigger.config.plugin, "trigger/ack",
                           {"trigger_id": trigger.id, "event_id": event_id, "task_id": task_id, "duplicate": duplicate},
                           timeout=trigger.config.timeout_secs)
        except AnimusError as err:
            acked = False  # the plugin sends the event again; the delivery record makes it a duplicate
            _log.warning("plugin_trigger_ack_failed trigger=%s event=%s error=%s", trigger.id, event_id, err.message)
        _log.info("plugin_trigger_fired trigger=%s event=%s task=%s duplicate=%s acked=%s", trigger.id, event_id,
                  task_id or "-", duplicate, acked)
        return TriggerFired(trigger.id, event_id, task_id, duplicate, acked, queued)

    def close(self) -> None:
        self.host.close()

    # -- internals ---------------------------------------------------------------------------------
    def _receiver(self, plugin: str) -> Subscriber:
        def receive(_method: str, params: Any) -> None:
            self._events.put((plugin, params))  # on the client's reader thread: queue it, nothing more

        return receive

    def _ensure_watch(self, trigger: PluginTrigger) -> None:
        plugin = trigger.config.plugin
        if plugin not in self._subscribed:
            self.host.subscribe(plugin, "trigger/event", self._receiver(plugin))
            self._subscribed.add(plugin)
        client = self.host.client(plugin, wait_up_to=0.0)
        if client.info is not None and client.info.plugin_kind != TRIGGER_BACKEND_KIND:
            raise InvalidInput(
                f"trigger {trigger.id!r}: plugin {plugin} is a {client.info.plugin_kind!r} plugin, not a {TRIGGER_BACKEND_KIND}",
                hint="name a trigger_backend plugin in the trigger's config.plugin (`animus plugin list` shows each kind)",
            )
        if self._watched.get(trigger.id) == client.pid:
            return
        # a new process (first start, or a restart after a crash) knows nothing: tell it what to watch
        self.host.call(plugin, "trigger/watch", {"trigger_id": trigger.id, "settings": dict(trigger.config.settings)},
                       timeout=trigger.config.timeout_secs)
        self._watched[trigger.id] = client.pid


def _task_for(trigger: PluginTrigger, event_id: str, event: dict[str, Any]) -> Any:
    from animus.domain.tasks import Priority, TaskStatus
    from animus.store import NewTask

    title = event.get("title")
    if not isinstance(title, str) or not title.strip():
        title = f"{trigger.id}: event {event_id}"
    description = event.get("description")
    if not isinstance(description, str):
        payload = event.get("payload")
        description = json.dumps(payload, ensure_ascii=False, indent=2) if payload is not None else ""
    labels = [f"trigger-{trigger.id}"]
    for label in event.get("labels") or []:
        if isinstance(label, str) and label.strip() and label.strip() not in labels:
            labels.append(label.strip().replace(" ", "-")[:100])
    priority = event.get("priority")
    status = TaskStatus.READY if trigger.config.enqueue else TaskStatus.BACKLOG
    return NewTask(title=title.strip()[:_MAX_TITLE], description=description[:_MAX_DESCRIPTION], status=status,
                   labels=tuple(labels), workflow=trigger.workflow_ref,
                   priority=Priority(priority) if priority in _PRIORITIES else Priority.MEDIUM)

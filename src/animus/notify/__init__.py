"""Notifications (a durable outbox of webhook/Slack messages), the file-watcher trigger poller and plugin triggers.

The daemon's tick calls ``deliver_due(store, config, now)`` and ``FileWatcher(trigger, root).poll(now)``;
its trigger thread calls ``PluginTriggers(host).poll(store, config)``.
"""

from animus.notify._delivery import DeliveryReport, backoff_secs, deliver_due, scan_events
from animus.notify._messages import notification_name, outbox_id, slack_message
from animus.notify._plugin_triggers import TRIGGER_BACKEND_KIND, PluginTriggers, TriggerFired
from animus.notify.watch import Change, FileWatcher
from animus.store import outbox_summary

__all__ = [
    "TRIGGER_BACKEND_KIND",
    "Change",
    "DeliveryReport",
    "FileWatcher",
    "PluginTriggers",
    "TriggerFired",
    "backoff_secs",
    "deliver_due",
    "notification_name",
    "outbox_id",
    "outbox_summary",
    "scan_events",
    "slack_message",
]

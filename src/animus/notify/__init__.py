"""Notifications (a durable outbox of webhook/Slack messages) and the file-watcher trigger poller.

The daemon's tick calls ``deliver_due(store, config, now)`` and ``FileWatcher(trigger, root).poll(now)``.
"""

from animus.notify._delivery import DeliveryReport, backoff_secs, deliver_due, scan_events
from animus.notify._messages import notification_name, outbox_id, slack_message
from animus.notify.watch import Change, FileWatcher
from animus.store import outbox_summary

__all__ = [
    "Change",
    "DeliveryReport",
    "FileWatcher",
    "backoff_secs",
    "deliver_due",
    "notification_name",
    "outbox_id",
    "outbox_summary",
    "scan_events",
    "slack_message",
]

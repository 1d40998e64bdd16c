"""The daemon: one executor per project that drains the queue within a pool, fires schedules, reconciles at start."""

from animus.config import DaemonInfo  # re-exported: its home is config, beside the state layout
from animus.daemon._control import log_tail, running_conflict, start_detached, stop_daemon
from animus.daemon._dispatch import Dispatcher
from animus.daemon._fleet import Membership, beat_secs
from animus.daemon._follow import enqueue_and_follow
from animus.daemon._info import info_path, log_path, read_info
from animus.daemon._reconcile import known_agent_runs, reconcile_before_launch
from animus.daemon._scheduler import FAKE_NOW_ENV, due_minute, fire, fire_due, latest_cron_minute, scheduler_now
from animus.daemon._server import Daemon, serve
from animus.daemon._status import daemon_section

__all__ = [
    "FAKE_NOW_ENV",
    "Daemon",
    "DaemonInfo",
    "Dispatcher",
    "Membership",
    "beat_secs",
    "daemon_section",
    "due_minute",
    "enqueue_and_follow",
    "fire",
    "fire_due",
    "info_path",
    "known_agent_runs",
    "latest_cron_minute",
    "log_path",
    "log_tail",
    "read_info",
    "reconcile_before_launch",
    "running_conflict",
    "scheduler_now",
    "serve",
    "start_detached",
    "stop_daemon",
]

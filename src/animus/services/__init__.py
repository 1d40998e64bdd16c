"""The operations every front end offers (tasks, queue, runs, gates, status), each rule written once; fronts only parse and render.

Example::

    from animus import services
    queued = services.enqueue(store, "TASK-3", workflow="quick")
    services.decide_gate(store, run_id, None, approve=True)  # the gate open now
"""

from animus.services._costs import COST_GROUPINGS, CostGrouping, CostLine, CostReport, cost_report, run_cost
from animus.services._fleet import ProjectIdentity, fleet_members, project_identity
from animus.services._gates import GateDecision, decide_gate, open_gate
from animus.services._prs import PR_EVENTS, PrMention, pr_mention, runs_waiting_on, wake_pr_runs
from animus.services._queue import (
    DROPPED_REASON,
    Dropped,
    Enqueued,
    clear_ended_entry,
    drop_queued,
    enqueue,
    hold,
    list_queue,
    queue_run,
    release,
)
from animus.services._runs import cancel_run, resume_run, retry_run
from animus.services._sources import source_overview
from animus.services._status import (
    ActiveRun,
    GateRow,
    Overview,
    PoolUse,
    PrRow,
    QueueDepth,
    StatusReport,
    StatusSnapshot,
    daemon_health,
    overview,
    plugin_health,
    status_report,
    take_snapshot,
)
from animus.services._tasks import create_task, update_task

__all__ = [
    "COST_GROUPINGS",
    "DROPPED_REASON",
    "PR_EVENTS",
    "ActiveRun",
    "CostGrouping",
    "CostLine",
    "CostReport",
    "Dropped",
    "Enqueued",
    "GateDecision",
    "GateRow",
    "Overview",
    "PoolUse",
    "PrMention",
    "PrRow",
    "ProjectIdentity",
    "QueueDepth",
    "StatusReport",
    "StatusSnapshot",
    "cancel_run",
    "clear_ended_entry",
    "cost_report",
    "create_task",
    "daemon_health",
    "decide_gate",
    "drop_queued",
    "enqueue",
    "fleet_members",
    "hold",
    "list_queue",
    "open_gate",
    "overview",
    "plugin_health",
    "pr_mention",
    "project_identity",
    "queue_run",
    "release",
    "resume_run",
    "retry_run",
    "run_cost",
    "runs_waiting_on",
    "source_overview",
    "status_report",
    "take_snapshot",
    "update_task",
    "wake_pr_runs",
]

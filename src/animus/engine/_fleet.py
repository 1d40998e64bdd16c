"""The engine's side of a fleet: run ownership, fencing, and taking over a dead executor's workflows.

DBOS holds the journal and the queue; open-source DBOS does not notice a dead executor (research
§2), so a live daemon that declared a peer dead asks the engine to ``take_over`` its pending
workflows: DBOS re-enqueues them on their queue, and whichever daemon dequeues one runs it.

Fencing, two layers deep. DBOS stamps every execution of a workflow with an owner token and refuses
the journal writes of an execution that lost its workflow (``DBOSWorkflowConflictIDError``). animus
adds the same at its own state: when a workflow starts in a process, the run's ``owner`` becomes
this executor and ``owner_epoch`` goes up (``claim``); every engine transaction checks the owner
under a row lock, and so does every step that acts outside this host (pushing a branch, landing)
before it acts. A paused daemon that wakes up after a takeover finds another owner: its
transaction raises DBOS's own conflict error, which stops that execution without recording
anything, and the daemon's heartbeat kills the agents it still supervises for such runs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animus.store import Store

_log = logging.getLogger("animus.daemon")
_WORKFLOW_PREFIX = "animus-run:"


class _Identity:
    """This process's executor id, set when the engine starts (None: no engine here, nothing to fence)."""

    executor_id: str | None = None


def _run_id_of(workflow_id: str | None) -> str | None:
    """``animus-run:<run>:g<n>`` → ``<run>``."""
    if not workflow_id or not workflow_id.startswith(_WORKFLOW_PREFIX):
        return None
    return workflow_id[len(_WORKFLOW_PREFIX):].rsplit(":", 1)[0]


def _claim(store: Store, run_id: str) -> int:
    """This executor now runs ``run_id`` (the epoch goes up when the owner changes); the epoch."""
    me = _Identity.executor_id
    if me is None:
        return 0
    epoch = store.claim_run(run_id, me)
    _log.info(f"event=run_claimed run={run_id} executor={me} epoch={epoch}")
    return epoch


def _fence(store: Store, run_id: str, *, lock: bool = True) -> None:
    """Stop this execution (without recording anything) when another executor owns the run now."""
    me = _Identity.executor_id
    if me is None:
        return
    owner, epoch = store.run_owner(run_id, lock=lock)
    if owner is not None and owner != me:
        from dbos._error import DBOSWorkflowConflictIDError

        from animus.engine._runtime import _current_context

        _log.warning(f"event=fenced run={run_id} executor={me} owner={owner} epoch={epoch} "
                     f"reason='another daemon took this run over; this one stops following it'")
        try:
            stop_agents_of_runs(_current_context(), {run_id})
        except Exception as exc:  # the refusal below matters more than the clean-up
            _log.warning(f"event=fence_cleanup_failed run={run_id} error={type(exc).__name__}")
        raise DBOSWorkflowConflictIDError(f"{_WORKFLOW_PREFIX}{run_id}")


def _fence_current(store: Store) -> None:
    """``_fence`` for the run of the workflow this step belongs to (no lock: a step is no transaction)."""
    from dbos import DBOS

    try:
        workflow_id = DBOS.workflow_id
    except Exception:  # not inside a workflow
        return
    run_id = _run_id_of(workflow_id)
    if run_id is not None:
        _fence(store, run_id, lock=False)


def _fence_step(ctx: Any) -> None:
    """Before a step acts beyond this host (a push, a landing): stop if another executor owns the run."""
    from animus.engine._txns import _engine_store

    _fence_current(_engine_store(ctx))


def stop_agents_of_runs(ctx: Any, run_ids: set[str]) -> list[int]:
    """Kill this host's agent processes (whole trees) of ``run_ids`` — runs another daemon owns now, or
    runs handed off at a stop; the pids killed."""
    from animus import procs

    if not run_ids:
        return []
    theirs = {s.run_id for s in procs.list_runs(ctx.runs_dir) if s.labels.get("workflow_run") in run_ids}
    if not theirs:
        return []
    # every other run directory is kept, also one a launch has claimed but not described yet
    keep = {p.name for p in ctx.runs_dir.iterdir()} - theirs if ctx.runs_dir.is_dir() else set()
    return procs.sweep_orphans(ctx.runs_dir, keep)



def take_over(executor_ids: list[str]) -> int:
    """Put the pending workflows of dead ``executor_ids`` back on their queue (DBOS recovery); how many."""
    if not executor_ids:
        return 0
    from dbos import DBOS

    handles = DBOS._recover_pending_workflows(list(executor_ids))
    return len(handles)

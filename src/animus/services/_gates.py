"""Deciding a manual gate: approve or reject, at the named phase or else at the one open now."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from animus.domain.errors import Conflict
from animus.domain.runs import PhaseStatus

if TYPE_CHECKING:
    from animus.store import Store


class GateDecision(TypedDict):
    """What was sent to the waiting workflow."""

    run_id: str
    phase: str
    attempt: int
    approved: bool
    note: str


def open_gate(store: Store, run_id: str) -> str:
    """The manual phase ``run_id`` waits at now (the latest, should several be open)."""
    run = store.get_run(run_id)
    waiting = [p.phase for p in store.phase_runs(run.id) if p.status == PhaseStatus.WAITING]
    if not waiting:
        raise Conflict(f"run {run.id} is not waiting at a manual gate (status {run.status.value})")
    return waiting[-1]


def decide_gate(store: Store, run_id: str, phase: str | None, *, approve: bool, note: str | None = None) -> GateDecision:
    """Approve or reject the gate ``phase`` (default: the open one); refused unless that gate is open."""
    from animus.engine import decide_gate as send

    sent = send(store, store.url, run_id, phase or open_gate(store, run_id), approve=approve, note=note)
    return GateDecision(run_id=str(sent["run_id"]), phase=str(sent["phase"]), attempt=int(sent["attempt"]),
                        approved=bool(sent["approved"]), note=str(sent["note"]))

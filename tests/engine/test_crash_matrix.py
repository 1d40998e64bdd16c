"""Kill -9 the executor at every step boundary of a run; after a restart the result must be the same.

The workflow: implementation → review (asks for one rework) → signoff (manual gate) → land (merge).
Each case SIGKILLs `animus run` at one boundary (ANIMUS_FAULT=<step>:<before|after>:<n>), restarts
it, approves the gate, and compares everything the run produced with an uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.engine import Project, drive, live_run_processes, make_project, outcome_of
from support.repo import git

# The steps of the workflow above, in order, as (step name, occurrence). The baseline test checks
# this list against the steps DBOS recorded, so it cannot silently drift from the engine.
AGENT_PHASE = ["animus.tx.phase_start", "animus.agent.launch", "animus.agent.await", "animus.git.commit", "animus.tx.phase_end"]
SEQUENCE = [
    "animus.load",
    "animus.worktree",
    "animus.tx.begin",
    *AGENT_PHASE,  # implementation #1
    *AGENT_PHASE,  # review #1 → rework
    *AGENT_PHASE,  # implementation #2
    *AGENT_PHASE,  # review #2 → advance
    "animus.tx.phase_start",  # signoff
    "animus.tx.waiting",
    "animus.tx.phase_end",
    "animus.land",
    "animus.tx.complete",
    "animus.cleanup",
]


def _boundaries() -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in SEQUENCE:
        seen[name] = seen.get(name, 0) + 1
        for when in ("before", "after"):
            out.append(f"{name}:{when}:{seen[name]}")
    return out


BOUNDARIES = _boundaries()
# A spread of boundaries runs in the default suite; all of them run under -m slow (CI runs both).
QUICK = {b for i, b in enumerate(BOUNDARIES) if i % 5 == 0} | {
    "animus.agent.await:before:1", "animus.tx.waiting:after:1", "animus.land:after:1", "animus.git.commit:before:3",
    "animus.cleanup:after:1", "animus.tx.complete:after:1",
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = make_project(tmp_path_factory.mktemp("baseline"), manual=True)
    result = drive(project, approver="in-process")
    assert result.exits == [0], result.outputs
    return {"outcome": outcome_of(project), "spawns": len(project.spawns()), "steps": _recorded_steps(project)}


def _recorded_steps(project: Project) -> list[str]:
    store = project.store()
    try:
        rows = store.conn.execute(
            "SELECT function_name FROM operation_outputs WHERE workflow_uuid = :w ORDER BY function_id",
            {"w": "animus-run:TASK-1.main.1:g1"},
        )
    finally:
        store.close()
    return [r["function_name"] for r in rows]


def test_baseline_matches_the_boundary_list(baseline: dict[str, Any]) -> None:
    steps = [s for s in baseline["steps"] if s.startswith("animus.")]
    assert steps == SEQUENCE, "the engine's step sequence changed: update SEQUENCE"
    assert baseline["outcome"]["run_status"] == "completed"
    assert baseline["spawns"] == 4
    assert len(BOUNDARIES) == 58


def _check_case(tmp_path: Path, boundary: str, baseline: dict[str, Any]) -> None:
    project = make_project(tmp_path, manual=True)
    result = drive(project, fault=boundary, approver="in-process")
    assert result.exits[0] == -9, f"the fault at {boundary} did not fire: {result.outputs[0][-2000:]}"
    assert result.exits[-1] == 0, result.outputs[-1][-3000:]
    out = outcome_of(project)
    assert out == baseline["outcome"], f"after a kill at {boundary} the result differs"
    # each agent run spawned exactly once: the executor's death never kills or restarts an agent
    spawns = project.spawns()
    sessions = [s["argv"][s["argv"].index("--session-id") + 1] for s in spawns if "--session-id" in s["argv"]]
    assert len(spawns) == baseline["spawns"] and len(set(sessions)) == len(sessions), spawns
    assert result.approvals == 1
    assert live_run_processes(project, "TASK-1") == []
    assert git(project.repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (project.state_dir / "worktrees" / "TASK-1").exists()


@pytest.mark.parametrize("boundary", sorted(QUICK, key=BOUNDARIES.index))
def test_kill_at_boundary_then_restart_gives_the_same_result(tmp_path: Path, boundary: str, baseline: dict[str, Any]) -> None:
    _check_case(tmp_path, boundary, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("boundary", [b for b in BOUNDARIES if b not in QUICK])
def test_kill_at_every_other_boundary_then_restart_gives_the_same_result(
    tmp_path: Path, boundary: str, baseline: dict[str, Any]
) -> None:
    _check_case(tmp_path, boundary, baseline)

"""Chaos: SIGKILL the daemon at random moments while 20 tasks run; nothing is lost, nothing is done twice."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import pytest

from support.daemon import chaos, new_session_spawns, queue_rows, review_script, unique_impl_script, wait_for
from support.engine import Project, live_run_processes
from support.repo import git


def _seed() -> int:
    return int(os.environ.get("ANIMUS_CHAOS_SEED") or random.randrange(1_000_000))


def _scripts(seed: int, count: int) -> dict[str, Any]:
    rng = random.Random(seed)
    sleeps = [round(rng.uniform(0.2, 2.0), 2) for _ in range(count)]
    return {"impl": unique_impl_script(count, sleeps=sleeps), "review": review_script(count, rework_every=5, sleeps=sleeps[::-1])}


def _check(project: Project, result: dict[str, Any]) -> dict[str, Any]:
    ids = result["tasks"]
    store = project.store()
    try:
        runs = {t: store.list_runs(task_id=t) for t in ids}
        tasks = {t: store.get_task(t).status.value for t in ids}
    finally:
        store.close()
    assert tasks == {t: "done" for t in ids}, result
    assert {t: [r.status.value for r in rs] for t, rs in runs.items()} == {t: ["completed"] for t in ids}, result
    spawns = new_session_spawns(project)
    twice = {s: n for s, n in spawns.items() if n > 1}
    resumed = [s for s in project.spawns() if "--resume" in s["argv"]]
    assert twice == {} and resumed == [], (result, twice, len(resumed))  # agents never die here, so never respawned
    merges = git(project.repo, "rev-list", "--merges", "main").split()
    assert len(merges) == len(ids), (result, len(merges))  # one merge per landed task, none twice
    wait_for(lambda: live_run_processes(project, "") == [], 15, "agent processes to end")
    wait_for(lambda: queue_rows(project) == [], 15, "the queue to empty")
    status = project.animus("status", "--json").json()
    assert status["daemon"]["running"] is True and status["pool"]["used"] == 0
    assert status["queue"]["entries"] == [] and status["active_runs"] == [] and status["waiting_gates"] == []
    assert [r["status"] for r in status["recent"]] == ["completed"] * 10
    reworks = sum(1 for rs in runs.values() for d in _decisions(project, rs[0].id) if d == "rework")
    counts = {**result, "tasks": len(ids), "agent_spawns": sum(spawns.values()), "reworks": reworks, "merges": len(merges)}
    print(f"chaos counts: {counts}")
    return counts


def _decisions(project: Project, run_id: str) -> list[str]:
    store = project.store()
    try:
        return [d.effective for d in store.decisions(run_id)]
    finally:
        store.close()


def test_chaos_ten_sigkills_lose_nothing_and_repeat_nothing(project_factory: Callable[..., Project]) -> None:
    seed = _seed()
    print(f"chaos seed: {seed} (rerun with ANIMUS_CHAOS_SEED={seed})")
    project = project_factory(pool=4, **_scripts(seed, 120))
    counts = _check(project, chaos(project, tasks=20, kills=10, seed=seed, timeout=150))
    assert counts["kills"] == 10 and counts["approvals"] >= 1


def test_chaos_ten_sigkills_on_postgresql(project_factory: Callable[..., Project], pg_database: str) -> None:
    """The same chaos with the daemon on PostgreSQL (a fleet of one: member row, run claims, owner fences)."""
    seed = _seed()
    print(f"chaos seed: {seed} (rerun with ANIMUS_CHAOS_SEED={seed})")
    project = project_factory(pool=4, **_scripts(seed, 120))
    counts = _check(project, chaos(project, tasks=12, kills=6, seed=seed, timeout=200))
    assert counts["kills"] == 6 and counts["approvals"] >= 1
    assert not (project.state_dir / "animus.db").exists()  # it really ran on PostgreSQL


@pytest.mark.slow
def test_chaos_hundred_sigkills(project_factory: Callable[..., Project]) -> None:
    seed = _seed()
    print(f"chaos seed: {seed} (rerun with ANIMUS_CHAOS_SEED={seed})")
    project = project_factory(pool=4, **_scripts(seed, 300))
    # 100 kills over 20 tasks (the acceptance chaos run's shape), a kill every 0.1–0.8 s after the restart
    counts = _check(project, chaos(project, tasks=20, kills=100, seed=seed, timeout=900, gap=(0.1, 0.8)))
    assert counts["kills"] == 100

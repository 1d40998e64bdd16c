"""Several daemons on one PostgreSQL: one queue, one project across clones, takeover of a lost host's runs, fencing.

Every test: a bare origin, one clone and one ANIMUS_HOME per daemon (a "host"), one database of its own.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fleet import Fleet, iso_secs, make_fleet, overlaps, wait_for
from support.repo import git


@pytest.fixture
def fleets(tmp_path: Path, pg_database: str) -> Iterator[list[Fleet]]:
    made: list[Fleet] = []
    yield made
    for fleet in made:
        fleet.cleanup()


def _enqueue_all(fleet: Fleet) -> list[str]:
    ids = fleet.task_ids()
    with fleet.store() as store:
        for task_id in ids:
            store.enqueue(task_id)
    return ids


def _owned(fleet: Fleet, executor: str) -> list[str]:
    with fleet.store() as store:
        return store.runs_by_owner().get(executor, [])


def _landed_once(fleet: Fleet, ids: list[str]) -> None:
    landings = fleet.origin_landings()
    per_task = Counter(subject.split("]", 1)[0].lstrip("[") for subject in landings)
    assert per_task == Counter({t: 1 for t in ids}), per_task  # every task landed on origin, none twice
    assert {r.status.value for r in fleet.runs()} == {"completed"} and len(fleet.runs()) == len(ids)


def test_a_lost_host_is_taken_over_and_every_task_lands_once(tmp_path: Path, pg_database: str, fleets: list[Fleet]) -> None:
    fleet = make_fleet(tmp_path, pg_database, pool=3, lease=2, sleeps=[1.5], tasks=20)
    fleets.append(fleet)
    a, b = fleet.hosts
    a.start()
    b.start()
    ids = _enqueue_all(fleet)
    me_a = a.executor_id()
    wait_for(lambda: _owned(fleet, me_a) and a.agent_pids(), 60, "daemon A to run agents")
    # a lost host: the daemon and every agent it supervises die at once
    pids = [a.signal(signal.SIGKILL), *a.agent_pids()]
    for pid in pids[1:]:
        try:
            __import__("os").kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    lost_at = time.time()
    taken = list(_owned(fleet, me_a))
    assert taken, "A owned runs when it was lost"
    wait_for(lambda: all(s == "done" for s in fleet.statuses().values()), 180, "B to finish all 20 tasks")
    _landed_once(fleet, ids)
    members = {m["executor_id"]: m for m in b.animus("--json", "daemon", "list").json()["members"]}
    assert members[me_a]["state"] == "dead" and members[me_a]["declared_by"] == b.executor_id()
    assert members[me_a]["taken_over_at"] is not None and members[b.executor_id()]["state"] == "alive"
    by_id = {r.id: r for r in fleet.runs()}
    assert all(by_id[r].owner == b.executor_id() and by_id[r].owner_epoch >= 2 for r in taken)
    # no agent of one task ever ran twice at the same time: A's lost agents end when the host died
    per_task: dict[str, list[tuple[float, float]]] = {}
    for run in a.agent_runs() + b.agent_runs():
        start = iso_secs(run["created_at"])
        end = iso_secs(run["exit"]["ended_at"]) if run["exit"] else lost_at
        per_task.setdefault(run["task"], []).append((start, end))
    assert set(per_task) == set(ids)
    assert {t: overlaps(iv) for t, iv in per_task.items()} == {t: 1 for t in ids}
    assert "event=takeover" in b.log() and f"executor={me_a}" in b.log()


def test_an_attempt_whose_edits_died_with_its_host_is_run_again_not_landed_empty(
    tmp_path: Path, pg_database: str, fleets: list[Fleet]
) -> None:
    # A's agent finishes; A dies before committing its edits (they never reach the pushed branch)
    fleet = make_fleet(tmp_path, pg_database, pool=1, lease=2, sleeps=[0.2], tasks=1)
    fleets.append(fleet)
    a, b = fleet.hosts
    a.start(env={"ANIMUS_FAULT": "animus.git.commit:before"})
    ids = _enqueue_all(fleet)
    wait_for(lambda: not a.alive() and a.agent_runs(), 60, "A to run the agent and die before its commit")
    b.start()
    wait_for(lambda: all(s == "done" for s in fleet.statuses().values()), 120, "B to finish the task")
    _landed_once(fleet, ids)
    assert "work/f1.txt" in git(fleet.origin, "ls-tree", "-r", "--name-only", "main")  # B's retry did the work
    assert [r["id"] for r in a.agent_runs()] == ["TASK-1.main.1-implementation-1"]
    assert [r["id"] for r in b.agent_runs()] == ["TASK-1.main.1-implementation-1.2"]  # a counted retry, on B


def test_a_paused_daemon_is_fenced_when_it_wakes(tmp_path: Path, pg_database: str, fleets: list[Fleet]) -> None:
    # the first agent sleeps long: it still runs on A when A wakes up; B's retry is quick
    fleet = make_fleet(tmp_path, pg_database, pool=1, lease=2, sleeps=[30, 0.5], tasks=1)
    fleets.append(fleet)
    a, b = fleet.hosts
    a.start()
    ids = _enqueue_all(fleet)
    me_a = a.executor_id()
    wait_for(lambda: _owned(fleet, me_a) and a.agent_pids(), 60, "A to run the agent")
    b.start()
    a.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: _owned(fleet, b.executor_id()), 60, "B to take the run over")
        wait_for(lambda: all(s == "done" for s in fleet.statuses().values()), 120, "B to finish the run")
    finally:
        a.signal(signal.SIGCONT)
    wait_for(lambda: "event=fenced" in a.log(), 30, "A to find itself fenced")
    wait_for(lambda: a.agent_pids() == [], 30, "A to stop the agent it still supervised")
    (lost,) = a.agent_runs()
    assert lost["exit"] is None or lost["exit"]["reason"] != "exited"  # killed, not finished
    _landed_once(fleet, ids)
    with fleet.store() as store:
        (run,) = store.list_runs()
        decisions = store.decisions(run.id)
        phases = store.phase_runs(run.id)
    assert [d.effective for d in decisions] == ["advance"]  # one verdict, from B; A recorded nothing after the takeover
    assert [p.status.value for p in phases] == ["advanced"]
    assert run.owner == b.executor_id() and run.owner_epoch == 2
    assert a.info() is not None  # A lives on: fenced for those runs, a member again
    members = {m["executor_id"]: m["state"] for m in b.animus("--json", "daemon", "list").json()["members"]}
    wait_for(lambda: {m["executor_id"]: m["state"] for m in b.animus("--json", "daemon", "list").json()["members"]}[me_a]
             == "alive", 30, "A to rejoin")
    assert members[b.executor_id()] == "alive"


def test_a_global_limit_holds_across_daemons(tmp_path: Path, pg_database: str, fleets: list[Fleet]) -> None:
    fleet = make_fleet(tmp_path, pg_database, pool=4, lease=5, sleeps=[1.5], tasks=10, more=", global_concurrency: 3")
    fleets.append(fleet)
    for host in fleet.hosts:
        host.start()
    ids = _enqueue_all(fleet)
    wait_for(lambda: all(s == "done" for s in fleet.statuses().values()), 180, "the fleet to finish 10 tasks")
    intervals = [(iso_secs(r["created_at"]), iso_secs(r["exit"]["ended_at"]))
                 for host in fleet.hosts for r in host.agent_runs()]
    assert len(intervals) == 10 and overlaps(intervals) == 3  # the limit was reached and never passed
    hosts_used = {r["host"] for host in fleet.hosts for r in host.agent_runs()}
    assert hosts_used == {"a", "b"}  # both daemons took work from the one queue
    _landed_once(fleet, ids)  # both landing onto origin's main, none lost


def test_a_clean_stop_hands_runs_to_a_peer_without_the_lease(tmp_path: Path, pg_database: str, fleets: list[Fleet]) -> None:
    fleet = make_fleet(tmp_path, pg_database, pool=2, lease=600, sleeps=[2], tasks=6)
    fleets.append(fleet)
    a, b = fleet.hosts
    a.start()
    ids = _enqueue_all(fleet)
    me_a = a.executor_id()
    wait_for(lambda: _owned(fleet, me_a) and a.agent_pids(), 60, "A to run agents")
    b.start()
    result = a.animus("daemon", "stop", "--json", timeout=60)
    assert result.code == 0, result.stderr
    assert a.agent_pids() == []  # handed off: A's agents stopped, B retries them
    wait_for(lambda: all(s == "done" for s in fleet.statuses().values()), 120, "B to finish A's work")
    members = {m["executor_id"]: m for m in b.animus("--json", "daemon", "list").json()["members"]}
    assert members[me_a]["state"] == "stopped" and members[me_a]["handed_off"] is True
    assert members[me_a]["heartbeat_age_secs"] < 600  # finished long before A's lease could have run out
    _landed_once(fleet, ids)
    assert "state=stopped" in b.log()


def test_two_clones_are_one_project_and_a_stranger_is_refused(tmp_path: Path, pg_database: str, fleets: list[Fleet]) -> None:
    fleet = make_fleet(tmp_path, pg_database, pool=1, lease=5, tasks=1)
    fleets.append(fleet)
    a, b = fleet.hosts
    assert b.animus("--json", "task", "get", "TASK-1").json()["id"] == "TASK-1"  # created from A, seen from B
    a.start()
    b.start()
    members = b.animus("--json", "daemon", "list").json()["members"]
    # one project: the normalized URL of the shared origin, whichever clone it is read from
    assert {m["project_id"] for m in members} == {"file:" + str(fleet.origin.resolve())[: -len(".git")]}
    status = a.animus("--json", "status").json()
    assert len(status["fleet"]) == 2
    checks = {c["name"]: c for c in b.animus("--json", "doctor").json()["checks"]}
    assert checks["project id"]["detail"].startswith(members[0]["project_id"] + " (from remote)")
    assert checks["takeover"]["status"] == "ok" and "fleet" not in checks
    # another repository pointed at the same database is refused
    from support.repo import make_repo

    stranger = make_repo(tmp_path / "stranger")
    (stranger / ".animus").mkdir()
    (stranger / ".animus" / "workflows.yaml").write_text((a.clone / ".animus" / "workflows.yaml").read_text())
    from support.cli import run_animus

    env = {**a.env, "ANIMUS_HOME": str(tmp_path / "stranger-home")}
    refused = run_animus(["daemon", "start", "--foreground"], cwd=stranger, env=env, timeout=60)
    assert refused.code == 4 and "this database serves project" in refused.stderr, refused.stderr
    told = run_animus(["--json", "doctor"], cwd=stranger, env=env, timeout=60)
    checks = {c["name"]: c for c in told.json()["checks"]}
    assert told.code == 4 and checks["fleet"]["status"] == "fail"  # doctor says why, before anyone starts it
    assert checks["takeover"]["status"] == "warn"  # and that without a remote a run cannot move hosts

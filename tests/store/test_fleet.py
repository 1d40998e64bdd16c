"""The fleet's rows: members, heartbeats on the database clock, one declaration per dead member, run owners, SKIP LOCKED."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from animus.domain.runs import RunStatus
from animus.store import NewTask, Store, open_store
from store.conftest import make_store


def _member(executor: str, pool: int = 2) -> dict[str, Any]:
    return {"executor_id": executor, "project_id": "github.com/o/r", "host": "h", "pid": 1, "clone_path": "/c",
            "animus_version": "0", "engine_version": "animus-engine-1", "pool_size": pool}


def test_a_member_lives_while_it_beats_and_is_declared_dead_once(store: Store) -> None:
    store.register_member(**_member("a"))
    store.register_member(**_member("b"))
    assert store.heartbeat("a") and store.heartbeat("b")
    assert store.declare_expired("b", lease_secs=60) == []  # fresh heartbeats
    time.sleep(0.3)
    store.heartbeat("b")
    assert store.declare_expired("b", lease_secs=0.2) == ["a"]
    assert store.declare_expired("b", lease_secs=0.2) == []  # declared once
    assert not store.heartbeat("a")  # a's own beat now tells it it was fenced
    (dead,) = store.members_to_take_over(lease_secs=60)
    assert dead.executor_id == "a" and dead.declared_by == "b"
    assert store.mark_taken_over("a", "b") and not store.mark_taken_over("a", "b")
    assert store.members_to_take_over(lease_secs=60) == []
    store.register_member(**_member("a"))  # rejoins: alive again, the old declaration cleared
    rows = {m.executor_id: m for m in store.members()}
    assert rows["a"].state == "alive" and rows["a"].declared_by is None and rows["a"].taken_over_at is None


def test_a_handed_off_member_is_taken_over_at_once_a_stopped_one_after_the_lease(store: Store) -> None:
    store.register_member(**_member("a"))
    store.register_member(**_member("b"))
    store.mark_member_stopped("a", handed_off=True)
    store.mark_member_stopped("b", handed_off=False)
    assert [m.executor_id for m in store.members_to_take_over(lease_secs=60)] == ["a"]
    time.sleep(0.3)
    assert [m.executor_id for m in store.members_to_take_over(lease_secs=0.2)] == ["a", "b"]


def test_the_owner_epoch_goes_up_only_when_the_owner_changes(store: Store) -> None:
    task = store.create_task(NewTask(title="t"))
    run = store.create_run(task.id, "main")
    assert store.run_owner(run.id) == (None, 0)
    assert store.claim_run(run.id, "a") == 1
    assert store.claim_run(run.id, "a") == 1  # the same executor again: a restart, not a takeover
    assert store.claim_run(run.id, "b") == 2
    assert store.run_owner(run.id) == ("b", 2)
    assert store.get_run(run.id).owner == "b"
    store.update_run(run.id, status=RunStatus.RUNNING)
    assert store.runs_by_owner() == {"b": [run.id]}


def test_the_database_remembers_its_project(store: Store) -> None:
    assert store.bound_project() is None
    assert store.bind_project("github.com/o/r") == "github.com/o/r"
    assert store.bind_project("github.com/other/x") == "github.com/o/r"  # the first one stays: compare and refuse


def test_two_daemons_never_claim_one_entry(backend: str, tmp_path: Path) -> None:
    store, url, schema = make_store(backend, tmp_path)
    try:
        ids = [store.create_task(NewTask(title=f"t{n}")).id for n in range(40)]
        for task_id in ids:
            store.enqueue(task_id)
        claimed: list[list[str]] = [[], []]
        barrier = threading.Barrier(2)

        def claimer(n: int) -> None:
            other = open_store(url, schema=schema) if schema else open_store(url)
            try:
                barrier.wait()
                while True:
                    with other.transaction():
                        got = other.claim_dispatchable(3)
                        for entry in got:
                            other.mark_dispatched(entry.task_id, f"run-{n}-{entry.task_id}")
                    if not got:
                        return
                    claimed[n] += [e.task_id for e in got]
            finally:
                other.close()

        threads = [threading.Thread(target=claimer, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # every entry claimed, none twice (without the row locks, two PostgreSQL transactions both see an entry queued)
        assert sorted(claimed[0] + claimed[1]) == sorted(ids)
    finally:
        if schema:
            store.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        store.close()

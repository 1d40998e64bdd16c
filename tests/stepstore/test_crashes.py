"""kill -9 of the server at each boundary of a step, then a restart: nothing committed is lost or recorded twice.

Also on PostgreSQL (``backend``), and two clients racing one idempotency key.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from support.stepstore import StepStoreError, served, start_server


def _begin(store: Any, key: str, epoch: int) -> dict[str, Any]:
    return dict(store.call("begin_step", run_id="run", phase_id="implement", step_name=f"step-{key}",
                           idempotency_key=key, payload=None, epoch=epoch))


def _replayed(store: Any) -> list[tuple[str, Any]]:
    runs = store.call("recover_in_flight", since_epoch=0)
    assert [r["run_id"] for r in runs] == ["run"]
    return [(s["idempotency_key"], s["output"]) for s in runs[0]["replay_state"]["steps"]]



def _dbos_commit_records(animus_home: Path, step_id: str) -> list[tuple[str, str, str, int]]:
    """DBOS's own rows for the commits of ``step_id`` (the project's SQLite file): id, status, app, and how many
    times its journal recorded the commit transaction."""
    (db,) = animus_home.glob("*/animus.db")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT w.workflow_uuid, w.status, w.application_name,"
            " (SELECT COUNT(*) FROM operation_outputs o WHERE o.workflow_uuid = w.workflow_uuid"
            "  AND o.function_name = 'animus.stepstore.tx.commit')"
            " FROM workflow_status w WHERE w.workflow_uuid LIKE :p ORDER BY w.workflow_uuid",
            {"p": f"animus-stepstore:commit:{step_id}:%"},
        ).fetchall()
    return [tuple(r) for r in rows]


def test_a_kill_between_begin_step_and_commit_step_loses_nothing(root: Path, tmp_path: Path, backend: str) -> None:
    first = start_server(root, "stdio", tmp_path)
    store = first.connect()
    epoch = store.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
    done = _begin(store, "a", epoch)
    store.call("commit_step", step_id=done["step_id"], output="a-out", epoch=epoch)
    pending = _begin(store, "b", epoch)
    first.kill()  # the runner acted on b (or not): the server dies before its commit

    with served(root, "stdio", tmp_path) as second:
        store = second.connect()
        assert _replayed(store) == [("a", "a-out")]
        new_epoch = store.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
        assert new_epoch > epoch
        assert _begin(store, "a", new_epoch)["status"] == "already_committed"
        again = _begin(store, "b", new_epoch)
        assert again == {"step_id": pending["step_id"], "status": "new"}
        store.call("commit_step", step_id=again["step_id"], output="b-out", epoch=new_epoch)
        assert _replayed(store) == [("a", "a-out"), ("b", "b-out")]


@pytest.mark.parametrize("fault", ["stepstore.commit_step:after", "stepstore.commit_tx:after"])
def test_a_kill_between_commit_step_and_its_reply_records_the_step_once(
    root: Path, tmp_path: Path, backend: str, fault: str, animus_home: Path
) -> None:
    first = start_server(root, "stdio", tmp_path, env={"ANIMUS_FAULT": fault})
    store = first.connect()
    epoch = store.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
    step = _begin(store, "a", epoch)
    with pytest.raises(ConnectionError):  # recorded, then SIGKILLed before the reply went out
        store.call("commit_step", step_id=step["step_id"], output="a-out", epoch=epoch)
    first.proc.wait(timeout=30)
    assert first.proc.returncode == -9

    with served(root, "stdio", tmp_path) as second:
        store = second.connect()
        # the client retries the commit it never heard back from: acked, recorded once
        assert store.call("commit_step", step_id=step["step_id"], output="a-retry", epoch=epoch) == {"ack": True}
        assert _begin(store, "a", epoch) == {"step_id": step["step_id"], "status": "already_committed",
                                              "prior_output": "a-out"}
        assert _replayed(store) == [("a", "a-out")]
        if backend == "sqlite":  # DBOS holds the commit: one workflow, ended, its transaction journaled once
            assert _dbos_commit_records(animus_home, step["step_id"]) == [
                (f"animus-stepstore:commit:{step['step_id']}:e{epoch}", "SUCCESS", "animus-stepstore", 1)]


def test_a_kill_before_the_commit_records_nothing(root: Path, tmp_path: Path) -> None:
    first = start_server(root, "stdio", tmp_path, env={"ANIMUS_FAULT": "stepstore.commit_step:before"})
    store = first.connect()
    epoch = store.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
    step = _begin(store, "a", epoch)
    with pytest.raises(ConnectionError):
        store.call("commit_step", step_id=step["step_id"], output="a-out", epoch=epoch)
    first.proc.wait(timeout=30)
    with served(root, "stdio", tmp_path) as second:
        store = second.connect()
        assert _replayed(store) == []
        assert _begin(store, "a", epoch)["status"] == "new"


def test_two_clients_racing_one_key_get_one_step(root: Path, tmp_path: Path, backend: str) -> None:
    """Two servers (two processes) on one database, each client asking for the same key at once."""
    with served(root, "stdio", tmp_path) as one, served(root, "stdio", tmp_path) as two:
        a, b = one.connect(), two.connect()
        epoch = a.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
        results: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)

        def race(name: str, client: Any) -> None:
            barrier.wait()
            for n in range(10):
                results[name].append(_begin(client, f"key-{n}", epoch))

        threads = [threading.Thread(target=race, args=item) for item in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert [r["step_id"] for r in results["a"]] == [r["step_id"] for r in results["b"]]
        assert len({r["step_id"] for r in results["a"]}) == 10

        # both commit key-0 at once with their own output: both acked, one result stands
        step_id = results["a"][0]["step_id"]
        answers: list[Any] = []

        def commit(client: Any, output: str) -> None:
            barrier.wait()
            answers.append(client.call("commit_step", step_id=step_id, output=output, epoch=epoch))

        threads = [threading.Thread(target=commit, args=item) for item in ((a, "from-a"), (b, "from-b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert answers == [{"ack": True}, {"ack": True}]
        replayed = _replayed(a)
        assert len(replayed) == 1 and replayed[0][1] in ("from-a", "from-b")
        assert _begin(b, "key-0", epoch)["prior_output"] == replayed[0][1]


def test_a_fenced_zombie_cannot_commit_after_a_restart(root: Path, tmp_path: Path, backend: str) -> None:
    with served(root, "socket", tmp_path) as server:
        zombie, owner = server.connect(), server.connect()
        old = zombie.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
        step = _begin(zombie, "a", old)
        new = owner.call("begin_workflow_run", run_id="run", phase_id="implement", inputs={})["epoch"]
        with pytest.raises(StepStoreError) as refused:
            zombie.call("commit_step", step_id=step["step_id"], output="zombie", epoch=old)
        assert refused.value.code == -1010
        owner.call("commit_step", step_id=_begin(owner, "a", new)["step_id"], output="owner", epoch=new)
        assert _replayed(owner) == [("a", "owner")]

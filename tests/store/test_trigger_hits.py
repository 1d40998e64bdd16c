"""Webhook admissions: the rate limit holds under concurrent callers, replays are refused, old rows are pruned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from animus.store import Store
from store.conftest import make_store


def test_forty_concurrent_admissions_against_a_limit_of_ten_admit_exactly_ten(backend: str, tmp_path: Path) -> None:
    first, url, schema = make_store(backend, tmp_path)
    verdicts: list[str] = []
    barrier = threading.Barrier(40)

    def admit() -> None:
        # each caller its own connection, as separate daemons or API workers would be
        from animus.store import open_store

        own = open_store(url, schema=schema) if schema else open_store(
            url, driver="sqlalchemy" if backend == "sqlite-sqlalchemy" else "auto")
        try:
            barrier.wait()
            verdicts.append(own.admit_trigger_hit("hook", limit=10))
        finally:
            own.close()

    try:
        threads = [threading.Thread(target=admit) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(verdicts) == ["admitted"] * 10 + ["rate_limited"] * 30
    finally:
        if schema:
            first.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        first.close()


def test_a_remembered_delivery_is_a_replay_and_not_counted(store: Store) -> None:
    assert store.admit_trigger_hit("gh", limit=5, delivery="github:abc") == "admitted"
    assert store.admit_trigger_hit("gh", limit=5, delivery="github:abc") == "replayed"
    assert store.admit_trigger_hit("other", limit=5, delivery="github:abc") == "admitted"  # per trigger
    assert store.admit_trigger_hit("gh", limit=5, delivery="github:def") == "admitted"


def test_an_admission_rolled_back_with_its_caller_is_neither_counted_nor_remembered(store: Store) -> None:
    try:
        with store.transaction():
            assert store.admit_trigger_hit("gh", limit=1, delivery="github:x") == "admitted"
            raise ValueError("the payload was bad")
    except ValueError:
        pass
    assert store.admit_trigger_hit("gh", limit=1, delivery="github:x") == "admitted"


def test_hits_older_than_a_day_and_deliveries_older_than_a_week_are_pruned(store: Store) -> None:
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="microseconds")
    for i in range(3):
        store.conn.execute("INSERT INTO trigger_hits (trigger_id, at, outcome, detail) VALUES ('gh', :at, 'bad_signature', '')",
                           {"at": old})
        store.conn.execute("INSERT INTO trigger_deliveries (trigger_id, delivery, at) VALUES ('gh', :d, :at)",
                           {"d": f"github:{i}", "at": old})
    store.record_trigger_hit("gh", "bad_signature")
    assert len(store.conn.execute("SELECT * FROM trigger_hits WHERE trigger_id = 'gh'")) == 1
    assert store.admit_trigger_hit("gh", limit=5, delivery="github:0") == "admitted"  # forgotten after a week
    assert len(store.conn.execute("SELECT * FROM trigger_deliveries WHERE trigger_id = 'gh'")) == 1

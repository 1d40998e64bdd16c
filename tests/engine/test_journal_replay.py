"""A journal recorded by an earlier engine build replays on this one: recorded step values stay readable.

The tarball was made by ``tests/engine/journals/record.py`` on the engine before its step values became
named types (issue 10): a run killed while waiting at its manual gate, after a rework. DBOS pickles step
outputs, so the engine's types must still accept what that build recorded (plain dicts and strings).
"""

from __future__ import annotations

import fcntl
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.engine import Project, drive, make_project, outcome_of

JOURNALS = Path(__file__).parent / "journals"
ROOT = Path("/tmp/animus-journal-v1")  # the journal holds absolute paths under this root


@pytest.fixture
def recorded_project() -> Iterator[Project]:
    with open("/tmp/animus-journal-v1.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one replay at a time: the root is fixed
        shutil.rmtree(ROOT, ignore_errors=True)
        ROOT.mkdir()
        with tarfile.open(JOURNALS / "v1-waiting-at-gate.tar.gz") as tar:
            tar.extractall(ROOT, filter="fully_trusted")
        try:
            yield Project(repo=ROOT / "repo", ledger=ROOT / "ledger.jsonl", home=ROOT / "home")
        finally:
            shutil.rmtree(ROOT, ignore_errors=True)


def test_a_journal_recorded_before_the_typed_engine_replays_to_the_same_result(
    recorded_project: Project, tmp_path: Path
) -> None:
    recorded = recorded_project
    before = recorded.store()
    try:
        run = before.active_run_for_task("TASK-1")
        assert run is not None and run.status.value == "waiting_manual"
    finally:
        before.close()
    assert len(recorded.spawns()) == 4  # impl, review (rework), impl, review — all before the kill

    replayed = drive(recorded)  # recovery replays 25 recorded steps, then the gate is approved
    assert replayed.exits == [0], replayed.outputs
    assert replayed.approvals == 1
    assert len(recorded.spawns()) == 4  # the replay read every agent step back; nothing spawned again

    fresh = make_project(tmp_path, manual=True)
    assert drive(fresh).exits == [0]
    assert outcome_of(recorded) == outcome_of(fresh)
    assert outcome_of(recorded)["run_status"] == "completed"

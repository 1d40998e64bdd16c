"""A runner in another language: the design sketch's executePhase in Node.js, killed mid-way and started again."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from support.stepstore import served

_RUNNER = Path(__file__).resolve().parents[1] / "support" / "stepstore_execute_phase.js"
_STEPS = ["build_dispatch", "spawn", "wait", "evaluate", "git_ops"]


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is part of the test set-up (scripts/test-setup); it is missing"
    return node


def _run(socket: str, run_id: str, ledger: Path, kill_after: str = "") -> subprocess.CompletedProcess[str]:
    argv = [_node(), str(_RUNNER), socket, run_id, str(ledger)] + ([kill_after] if kill_after else [])
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kill_after", ["build_dispatch", "wait", "evaluate"])
def test_a_node_runner_killed_between_steps_finishes_with_every_side_effect_done_once(
        root: Path, tmp_path: Path, kill_after: str) -> None:
    ledger = tmp_path / "ledger.txt"
    with served(root, "socket", tmp_path) as server:
        socket = server.where.removeprefix("unix:")
        first = _run(socket, "run-1", ledger, kill_after)
        assert first.returncode == -signal.SIGKILL, first.stderr
        done_before = _STEPS[: _STEPS.index(kill_after) + 1]
        assert ledger.read_text().split("\n")[:-1] == [f"run-1 {s}" for s in done_before]

        store = server.connect()
        in_flight = store.call("recover_in_flight", since_epoch=0)
        assert [r["run_id"] for r in in_flight] == ["run-1"]
        assert [s["step_name"] for s in in_flight[0]["replay_state"]["steps"]] == done_before
        assert in_flight[0]["last_committed_step"] == kill_after

        second = _run(socket, "run-1", ledger)
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines() == ([f"{s}: already committed, skipped" for s in done_before]
                                              + [f"{s}: done" for s in _STEPS[len(done_before):]] + ["completed"])
        # every side effect exactly once, in order, across the kill
        assert ledger.read_text().split("\n")[:-1] == [f"run-1 {s}" for s in _STEPS]
        assert store.call("recover_in_flight", since_epoch=0) == []

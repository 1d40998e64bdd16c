"""kill -9 of the launcher at any instant of launch(): never two agents for one run id, always an ending."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from animus.procs import RunSpec, attach, build_env, launch

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _chaos(runs_dir: Path, tmp_path: Path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": SRC}
    for i in range(rounds):
        ledger = tmp_path / f"ledger-{i}"
        code = f"import os, time\nopen({str(ledger)!r}, 'a').write(f'{{os.getpid()}}\\n')\ntime.sleep(0.1)"
        spec = RunSpec(
            run_id=f"c{i}", argv=[sys.executable, "-c", code], cwd=str(tmp_path), env=build_env(os.environ, {})
        )
        launcher = textwrap.dedent(f"""
            from pathlib import Path
            from animus.procs import RunSpec, launch
            launch(RunSpec(run_id={spec.run_id!r}, argv={spec.argv!r}, cwd={spec.cwd!r}, env={spec.env!r}),
                   Path({str(runs_dir)!r}))
        """)
        proc = subprocess.Popen([sys.executable, "-c", launcher], env=env)
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # whoever comes next launches the same id again: it must never start a second agent
        handle = launch(spec, runs_dir) if not (runs_dir / spec.run_id).exists() else attach(spec.run_id, runs_dir)
        launch(spec, runs_dir)
        exit = handle.wait(timeout=30)
        spawned = ledger.read_text().splitlines() if ledger.exists() else []
        assert len(spawned) <= 1, (i, spawned)
        if exit.reason == "exited":
            assert len(spawned) == 1
        assert json.loads((handle.dir / "exit.json").read_text())["reason"] in {"exited", "spawn_failed"}


def test_launcher_killed_at_random_instants_never_doubles_a_run(runs_dir: Path, tmp_path: Path) -> None:
    _chaos(runs_dir, tmp_path, rounds=4, seed=7)


@pytest.mark.slow
def test_launcher_killed_at_random_instants_never_doubles_a_run_many_times(runs_dir: Path, tmp_path: Path) -> None:
    _chaos(runs_dir, tmp_path, rounds=30, seed=11)


def test_run_whose_launcher_died_before_the_supervisor_is_judged_early(runs_dir: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    for run_id, age in (("young", 1), ("old", 11)):
        run = runs_dir / run_id
        run.mkdir(parents=True)
        created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - age))
        (run / "spec.json").write_text(
            json.dumps({"run_id": run_id, "created_at": created, "launcher_pid": dead.pid, "launcher_start_time": 1})
        )
    assert attach("young", runs_dir).state().status == "running"
    old = attach("old", runs_dir).state()
    assert old.status == "finished" and old.exit is not None and old.exit.reason == "spawn_failed"

"""sweep_orphans kills the processes of runs nobody knows, and never those of known runs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from animus.procs import launch, sweep_orphans

TREE = textwrap.dedent("""
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        open(sys.argv[1], "a").write(f"{os.getpid()}\\n")
        time.sleep(60)
        os._exit(0)
    open(sys.argv[1], "a").write(f"{os.getpid()}\\n")
    time.sleep(60)
""")


def test_sweep_kills_unknown_runs_only(runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any) -> None:
    pids = {}
    for run_id in ("known", "orphan"):
        spec = make_spec(run_id, TREE)
        pid_file = tmp_path / f"{run_id}.pids"
        launch(type(spec)(**{**spec.__dict__, "argv": [*spec.argv, str(pid_file)]}), runs_dir)
        helpers.wait_for(lambda f=pid_file: f.exists() and len(f.read_text().split()) == 2)
        pids[run_id] = [int(p) for p in pid_file.read_text().split()]
    other_runs = tmp_path / "other-project" / "runs"
    elsewhere = launch(make_spec("orphan", "import time; time.sleep(60)"), other_runs)
    try:
        killed = sweep_orphans(runs_dir, {"known"})
        assert set(pids["orphan"]) <= set(killed)
        assert not set(pids["known"]) & set(killed)
        helpers.wait_for(lambda: not any(helpers.running(p) for p in pids["orphan"]))
        assert all(helpers.running(p) for p in pids["known"])
        assert elsewhere.state().status == "running"
        exit = (runs_dir / "orphan" / "exit.json").read_text()
        assert '"stopped"' in exit
        assert sweep_orphans(runs_dir, {"known"}) == []
    finally:
        sweep_orphans(other_runs, set())

"""Record a DBOS journal with the engine as it is now, for the replay test (tests/engine/test_journal_replay.py).

Run from a checkout whose engine wrote the journals to pin, e.g. before a change to the engine's step values:

    .venv/bin/python tests/engine/journals/record.py tests/engine/journals/v1-waiting-at-gate.tar.gz

It builds the standard test project at the fixed root ``/tmp/animus-journal-v1`` (the journal records
absolute paths, so the replay extracts it at the same place), runs ``animus run TASK-1`` until the
manual gate opens (implementation → review with one rework → signoff), kills the executor with
SIGKILL, and packs repo, state dir and spawn ledger into a tarball.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for support.*

from support.engine import make_project

ROOT = Path("/tmp/animus-journal-v1")


def main() -> int:
    out = Path(sys.argv[1]).resolve()
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    project = make_project(ROOT, manual=True)
    env = {**os.environ, **project.env}
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "run", "TASK-1"], cwd=project.repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        store = project.store()
        try:
            run = store.active_run_for_task("TASK-1")
            waiting = run is not None and run.status.value == "waiting_manual"
        finally:
            store.close()
        if waiting:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the run never reached the gate (exit {proc.returncode})")
        time.sleep(0.1)
    time.sleep(0.5)  # let DBOS reach its recv() so the journal holds the waiting step too
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with tarfile.open(out, "w:gz") as tar:
        for name in ("repo", "home", "ledger.jsonl"):
            tar.add(ROOT / name, arcname=name)
    shutil.rmtree(ROOT)
    print(f"recorded {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

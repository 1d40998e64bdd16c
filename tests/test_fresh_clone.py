"""The README's first command works on a fresh clone, the first time (a broken first `./run demo` once went unseen).

CI runs `./run test` itself on a fresh clone; this test covers the other command. It clones the
committed HEAD (uncommitted changes are not in the clone) and runs `./run demo` there with no
`.venv`, so `run` creates the virtualenv and installs the project exactly as a new user's first call does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_demo_works_the_first_time_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "animus"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIMUS_", "VIRTUAL_ENV", "PYTHONPATH", "PYTEST"))}
    env["ANIMUS_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(["./run", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "run: installing animus (base) into .venv" in proc.stderr  # it really was the first run
    assert "demo finished in" in proc.stdout
    log = proc.stdout.split("$ git log --oneline --graph main", 1)[1]
    for task, title in (("TASK-1", "Add a greeting module"), ("TASK-2", "Document the greeting"), ("TASK-3", "Tidy the README")):
        assert f"[{task}] {title}" in log, log  # each task landed on main
    assert (clone / ".venv" / ".animus-stamp-base").is_file()
    second = subprocess.run(["./run", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=600,
                            stdin=subprocess.DEVNULL, check=False)
    assert second.returncode == 0 and "installing" not in second.stderr  # the stamp makes the second run quick

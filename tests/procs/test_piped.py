"""The spawners the plugin host uses: a piped child with its stderr in a log, and a capped probe of an untrusted program."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from animus.procs import is_alive, run_capped, spawn_piped

PY = sys.executable


def test_a_capped_run_keeps_the_output_of_a_program_that_ends(tmp_path: Path) -> None:
    result = run_capped([PY, "-c", "print('hi')"], cwd=tmp_path, env=dict(os.environ), timeout=10, max_bytes=100)
    assert (result.returncode, result.stdout, result.timed_out, result.overflowed) == (0, b"hi\n", False, False)


def test_a_capped_run_stops_reading_at_the_cap_and_kills_the_program(tmp_path: Path) -> None:
    result = run_capped([PY, "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"], cwd=tmp_path,
                        env=dict(os.environ), timeout=10, max_bytes=1 << 20)
    assert result.overflowed and result.returncode is None and len(result.stdout) == 1 << 20


def test_a_capped_run_kills_the_whole_group_at_the_deadline(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    code = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = run_capped([PY, "-c", code], cwd=tmp_path, env=dict(os.environ), timeout=1.0, max_bytes=100)
    assert result.timed_out and time.monotonic() - started < 5
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while is_alive(grandchild, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(grandchild, None)


def test_a_piped_child_talks_over_its_pipes_and_logs_its_stderr(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    code = "import sys\nfor line in sys.stdin:\n    print('echo', line.strip(), flush=True)\n    print('seen', file=sys.stderr, flush=True)\n"
    child = spawn_piped([PY, "-c", code], cwd=tmp_path, env=dict(os.environ), stderr_path=log)
    child.stdin.write(b"one\n")
    child.stdin.flush()
    assert child.stdout.readline() == b"echo one\n"
    child.stdin.close()
    assert child.wait(10) == 0
    assert log.read_text() == "seen\n"


def test_killing_a_piped_child_takes_what_it_forked(tmp_path: Path) -> None:
    code = "import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\nprint(p.pid, flush=True)\nsys.stdin.read()\n"
    child = spawn_piped([PY, "-c", code], cwd=tmp_path, env=dict(os.environ), stderr_path=tmp_path / "err.log")
    grandchild = int(child.stdout.readline())
    child.kill()
    deadline = time.monotonic() + 5
    while is_alive(grandchild, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is not None and not is_alive(grandchild, None)

"""Launch-to-first-byte latency: a detached run through the supervisor vs a plain subprocess.Popen.

Run: .venv/bin/python bench/launch.py [N]   (default N=30 of each, interleaved). Prints figures only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from animus.procs import RunSpec, build_env, launch

PROGRAM = [sys.executable, "-c", "print('first line', flush=True)"]


def via_popen() -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(PROGRAM, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.read(1)
    elapsed = time.perf_counter() - started
    proc.communicate()
    return elapsed


def via_supervisor(runs_dir: Path, run_id: str, env: dict[str, str]) -> tuple[float, float]:
    """(seconds until launch() returned, seconds until the first byte is in stdout.log)."""
    started = time.perf_counter()
    handle = launch(RunSpec(run_id=run_id, argv=PROGRAM, cwd=str(runs_dir), env=env), runs_dir)
    returned = time.perf_counter() - started
    log = handle.dir / "stdout.log"
    while os.stat(log).st_size == 0:
        time.sleep(0.0002)
    first_byte = time.perf_counter() - started
    handle.wait(timeout=30)
    return returned, first_byte


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    env = build_env(os.environ, {})
    popen, returned, first = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        via_popen()  # warm the page cache for both paths
        via_supervisor(runs_dir, "warm-up", env)
        for i in range(n):
            popen.append(via_popen())
            r, f = via_supervisor(runs_dir, f"bench-{i}", env)
            returned.append(r)
            first.append(f)
    rows = [
        ("subprocess.Popen -> first byte", quantiles(popen)),
        ("launch() returned", quantiles(returned)),
        ("launch() -> first byte", quantiles(first)),
    ]
    print(f"launch-to-first-byte, N={n} each, python {sys.version.split()[0]}, {os.cpu_count()} cpu")
    for name, (p50, p95) in rows:
        print(f"  {name:32s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    (p50_a, p95_a), (p50_b, p95_b) = quantiles(popen), quantiles(first)
    print(
        f"  {'delta (supervisor - Popen)':32s} p50 {p50_b - p50_a:7.1f} ms   p95 {p95_b - p95_a:7.1f} ms   goal <= 50 ms"
    )


if __name__ == "__main__":
    main()

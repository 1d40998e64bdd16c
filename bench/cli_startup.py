"""Cold-start time of read-only CLI commands vs the bare interpreter, against a 10,000-task store.

Run: ./run bench cli_startup      (prints figures; goal: `task list --json` <= 150 ms above `python -c pass`)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TASKS = 10_000


def seed(repo: Path, home: Path) -> None:
    from animus.config.project import Project, state_dir_for
    from animus.domain.tasks import Priority, TaskStatus, TaskType
    from animus.store import NewTask, open_store

    os.environ["ANIMUS_HOME"] = str(home)
    project = Project(root=repo.resolve(), state_dir=state_dir_for(repo.resolve()))
    store = open_store(db_path=project.db_path)
    prios, types, statuses = list(Priority), list(TaskType), [TaskStatus.BACKLOG, TaskStatus.READY]
    with store.conn.transaction():
        for i in range(TASKS):
            store.create_task(
                NewTask(
                    title=f"Task number {i}: make the thing better",
                    description="A description of moderate length. " * 5,
                    priority=prios[i % 4],
                    type=types[i % 6],
                    status=statuses[i % 2],
                    labels=(f"area-{i % 7}",),
                )
            )
    store.close()


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> list[float]:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed: {proc.stderr.decode()[-500:]}")
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo, home = Path(tmp) / "repo", Path(tmp) / "home"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        t0 = time.perf_counter()
        seed(repo, home)
        print(f"seeded {TASKS} tasks in {time.perf_counter() - t0:.1f}s")
        env = {**os.environ, "ANIMUS_HOME": str(home)}
        animus = [sys.executable, "-m", "animus.cli.main"]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "animus --help": [*animus, "--help"],
            "animus task list --json (default limit 200)": [*animus, "task", "list", "--json"],
            "animus task list --json --limit 0 (all 10,000)": [*animus, "task", "list", "--json", "--limit", "0"],
            "animus task get TASK-5000 --json": [*animus, "task", "get", "TASK-5000", "--json"],
            "animus task next --json": [*animus, "task", "next", "--json"],
        }
        results = {name: timed(argv, repo, env) for name, argv in cases.items()}
        base = statistics.median(results["python -c pass"])
        print(f"cold starts, {RUNS} runs each, median / min (ms), and median above bare python:")
        for name, samples in results.items():
            med = statistics.median(samples)
            extra = "" if name.startswith("python") else f"   +{med - base:6.1f} ms"
            print(f"  {name:<50} {med:7.1f} / {min(samples):7.1f}{extra}")
        over = statistics.median(results["animus task list --json (default limit 200)"]) - base
        print(f"goal: task list --json <= 150 ms above bare python -> {'met' if over <= 150 else 'NOT met'} ({over:.0f} ms)")


if __name__ == "__main__":
    main()

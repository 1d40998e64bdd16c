"""Several daemons on one PostgreSQL database (issue 13): throughput of 1, 2, 4 daemons vs. a bare DBOS queue, takeover.

Run: ./run bench fleet                     (full sizes; prints every figure)
     BENCH_QUICK=1 ./run bench fleet       (small sizes, a few minutes)
     ./run bench fleet throughput takeover (only some parts: throughput, baseline, takeover)
Needs a PostgreSQL server: BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432) whose user may CREATE DATABASE; each
measurement gets a fresh database animus_bench_<hex>, dropped afterwards. Each daemon is its own clone of one bare
origin repo with its own ANIMUS_HOME, all on the same ANIMUS_DATABASE_URL.
Sizes: BENCH_TASKS (500), BENCH_POOL (8), BENCH_FLEETS (1,2,4), BENCH_KILLS (5), BENCH_LEASE (3), BENCH_NAP (6),
       BENCH_TIMEOUT (600: seconds a drain may take before it counts as failed).
Goals (issue 13): 2 daemons >= 1.7x the tasks/min of one; one daemon >= 0.3x a bare DBOS queue on the same server;
       kill -9 of a daemon -> its first run continuing on a peer <= lease + 5 s (p50).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

QUICK = bool(os.environ.get("BENCH_QUICK"))


def size(name: str, full: int, quick: int) -> int:
    return int(os.environ.get(name) or (quick if QUICK else full))


TASKS = size("BENCH_TASKS", 500, 60)
POOL = size("BENCH_POOL", 8, 8)
KILLS = size("BENCH_KILLS", 5, 2)
LEASE = size("BENCH_LEASE", 3, 3)
NAP = size("BENCH_NAP", 6, 6)
TIMEOUT = size("BENCH_TIMEOUT", 600, 180)
FLEETS = [int(n) for n in (os.environ.get("BENCH_FLEETS") or "1,2,4").split(",")]
PG_URL = (os.environ.get("BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432").rstrip("/")

CONFIG = """\
default_workflow: instant
phases:
  instant: {{mode: command, command: {{argv: ["true"]}}}}
  nap: {{mode: command, command: {{argv: ["sleep", "{nap}"]}}}}
workflows:
  - id: instant
    phases: [instant]
  - id: nap
    phases: [nap]
daemon: {{pool_size: {pool}, interval_secs: 1.0, lease_secs: {lease}}}
"""
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}


class Failed(Exception):
    """A measurement that could not be taken (printed, and the next one runs)."""


# -- PostgreSQL -------------------------------------------------------------------------------------
def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the server; its URL. Dropped afterwards (connections still open are ended)."""
    name = f"animus_bench_{uuid.uuid4().hex[:12]}"
    admin(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_URL}/{name}"
    finally:
        try:
            admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception as err:  # cleanup reports, never masks the measurement
            print(f"  (could not drop database {name}: {err})")


def query(url: str, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, connect_timeout=10, row_factory=dict_row) as conn:
        return list(conn.execute(sql, params or {}).fetchall())


def has_column(url: str, table: str, column: str) -> bool:
    return bool(query(url, "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %(t)s "
                           "AND column_name = %(c)s", {"t": table, "c": column}))


# -- a fleet of clones ------------------------------------------------------------------------------
class Daemon:
    """One clone of the origin, its ANIMUS_HOME, and the daemon started in it."""

    def __init__(self, base: Path, name: str, url: str) -> None:
        self.repo = base / name / "repo"
        self.home = base / name / "home"
        self.url = url
        self.pid: int | None = None
        self.executor: str | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **GIT_ENV, "ANIMUS_HOME": str(self.home), "ANIMUS_DATABASE_URL": self.url, "ANIMUS_HTTP_PORT": "0"}

    def animus(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([sys.executable, "-m", "animus.cli.main", *args], cwd=self.repo, capture_output=True,
                                  text=True, env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise Failed(f"`animus {' '.join(args)}` in {self.repo.parent.name} did not return within {timeout:.0f} s") from err

    def start(self) -> int:
        out = self.animus("daemon", "start", "--json")
        if out.returncode != 0:
            raise Failed(f"`animus daemon start` in {self.repo.parent.name} failed: {(out.stderr or out.stdout).strip()[-1500:]}")
        data = json.loads(out.stdout)["data"]
        self.pid, self.executor = int(data["pid"]), str(data["executor_id"])
        return self.pid

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie (our grandchild, not yet reaped by init) counts as dead
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def kill9(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        wait(lambda: not self.alive(), 10)

    def stop(self) -> None:
        """`animus daemon stop`, then SIGKILL to its process group if anything is left."""
        if self.pid is None:
            return
        with suppress(Failed):
            self.animus("daemon", "stop", "--timeout", "20", timeout=40)
        if self.alive():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def log_tail(self, lines: int = 15) -> str:
        logs = sorted(self.home.glob("*/logs/daemon.log"))
        if not logs:
            return "(no daemon.log)"
        return "\n".join("    " + line for line in logs[0].read_text(errors="replace").splitlines()[-lines:])


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV}, timeout=60)


def make_fleet(base: Path, n: int, url: str, pool: int) -> list[Daemon]:
    """A bare origin; clone 1 commits .animus/workflows.yaml and pushes; clones 2..n clone after the push."""
    base.mkdir(parents=True)
    origin = base / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=base)
    daemons = [Daemon(base, f"d{i + 1}", url) for i in range(n)]
    first = daemons[0]
    first.repo.parent.mkdir(parents=True)
    git("clone", "-q", str(origin), str(first.repo), cwd=base)
    git("checkout", "-q", "-B", "main", cwd=first.repo)
    (first.repo / ".animus").mkdir()
    (first.repo / ".animus" / "workflows.yaml").write_text(CONFIG.format(pool=pool, lease=LEASE, nap=NAP))
    git("add", ".", cwd=first.repo)
    git("commit", "-q", "-m", "init", cwd=first.repo)
    git("push", "-q", "origin", "main", cwd=first.repo)
    for d in daemons[1:]:
        d.repo.parent.mkdir(parents=True)
        git("clone", "-q", "-b", "main", str(origin), str(d.repo), cwd=base)
    return daemons


@contextmanager
def running(daemons: list[Daemon]) -> Iterator[list[Daemon]]:
    """Start every daemon; always stop them all (also when a start or the measurement failed)."""
    try:
        for d in daemons:
            d.start()
        yield daemons
    finally:
        for d in daemons:
            d.stop()


def store_of(url: str) -> Any:
    from animus.store import open_store

    return open_store(url=url)


def create(url: str, n: int, workflow: str) -> list[str]:
    from animus.domain.tasks import TaskStatus
    from animus.store import NewTask

    store = store_of(url)
    try:
        with store.conn.transaction():
            return [store.create_task(NewTask(title=f"t{i}", status=TaskStatus.READY, workflow=workflow)).id for i in range(n)]
    finally:
        store.close()


def enqueue(url: str, task_ids: list[str]) -> float:
    store = store_of(url)
    try:
        stamp = time.time()
        for task_id in task_ids:
            store.enqueue(task_id)
        return stamp
    finally:
        store.close()


def wait(cond: Any, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(poll)
    return False


def task_counts(url: str) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in query(url, "SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")}


# -- 1. throughput ----------------------------------------------------------------------------------
def drain(base: Path, n_daemons: int) -> tuple[float, str]:
    """Seconds from the first enqueue until all TASKS instant tasks are done, with n daemons on a fresh database;
    and a note: how the runs split across the daemons (DBOS's executor ids), and any task that ran more than once."""
    with fresh_database() as url:
        ids = create(url, TASKS, "instant")  # migrates the fresh database before any daemon starts
        daemons = make_fleet(base / f"fleet{n_daemons}", n_daemons, url, POOL)
        with running(daemons):
            time.sleep(1.5)  # warm: every DBOS queue worker is up
            started = time.monotonic()
            enqueue(url, ids)
            deadline = started + TIMEOUT
            while True:
                counts = task_counts(url)
                if counts.get("done", 0) >= TASKS:
                    return time.monotonic() - started, split(url, daemons)
                dead = [d for d in daemons if not d.alive()]
                if dead:
                    raise Failed(f"daemon {dead[0].repo.parent.name} exited during the drain ({counts}); its log:\n"
                                 f"{dead[0].log_tail()}")
                stuck = sum(v for k, v in counts.items() if k in ("blocked", "cancelled"))
                if stuck:
                    why = query(url, "SELECT task_id, failure_reason FROM workflow_runs WHERE failure_reason IS NOT NULL LIMIT 3")
                    raise Failed(f"{stuck} tasks ended blocked/cancelled, not done ({counts}): {why}")
                if time.monotonic() > deadline:
                    raise Failed(f"not drained after {TIMEOUT} s: {counts}")
                time.sleep(0.2)


def split(url: str, daemons: list[Daemon]) -> str:
    runs = int(query(url, "SELECT COUNT(*) AS n FROM workflow_runs")[0]["n"])
    twice = "" if runs <= TASKS else f"; {runs} runs for {TASKS} tasks: a task was run more than once"
    if len(daemons) == 1:
        return f" ({twice[2:]})" if twice else ""
    per = {r["executor_id"]: int(r["n"]) for r in query(
        url, "SELECT executor_id, COUNT(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE 'animus-run:%%' GROUP BY executor_id")}
    return f" (runs per daemon: {'/'.join(str(per.get(d.executor or '', 0)) for d in daemons)}{twice})"


def bench_throughput(base: Path) -> None:
    rates: dict[int, float] = {}
    for n in FLEETS:
        try:
            secs, note = drain(base, n)
        except Failed as err:
            print(f"{TASKS} instant tasks, {n} daemon(s) x pool {POOL}, one PostgreSQL: FAILED: {err}")
            continue
        rates[n] = TASKS / secs * 60
        print(f"{TASKS} instant tasks (command phase `true`), {n} daemon(s) x pool {POOL}, one PostgreSQL: "
              f"{secs:.1f} s = {rates[n]:.0f} tasks/min{note}")
    one = rates.get(1)
    for n in FLEETS:
        if n == 1:
            continue
        goal = " (goal >= 1.7x)" if n == 2 else ""
        if one and n in rates:
            print(f"  speed-up of {n} daemons over 1: {rates[n] / one:.2f}x{goal}")
        else:
            print(f"  speed-up of {n} daemons over 1: n/a (a measurement failed){goal}")
    try:
        bare = bare_dbos_queue(TASKS, POOL)
    except Failed as err:
        print(f"bare DBOS queue on PostgreSQL: FAILED: {err}")
        return
    print(f"bare DBOS queue on the same PostgreSQL server, {TASKS} workflows of 3 no-op steps, concurrency {POOL}: "
          f"{bare:.1f} s = {TASKS / bare * 60:.0f} workflows/min")
    if one:
        print(f"  one daemon / bare DBOS queue: {one / (TASKS / bare * 60):.2f}x (goal >= 0.3x)")


def bench_baseline(base: Path) -> None:
    bare = bare_dbos_queue(TASKS, POOL)
    print(f"bare DBOS queue on PostgreSQL, {TASKS} workflows of 3 no-op steps, concurrency {POOL}: "
          f"{bare:.1f} s = {TASKS / bare * 60:.0f} workflows/min")


BARE = """
import sys, time
from dbos import DBOS
n, pool, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
DBOS(config={"name": "bare", "system_database_url": url, "application_version": "v1", "log_level": "WARNING"})
@DBOS.step()
def one(i: int) -> int:
    return i
@DBOS.step()
def two(i: int) -> int:
    return i + 1
@DBOS.step()
def three(i: int) -> int:
    return i + 2
@DBOS.workflow()
def noop(i: int) -> int:
    return three(two(one(i)))
DBOS.launch()
DBOS.register_queue("q", worker_concurrency=pool, polling_interval_sec=0.05)
time.sleep(1.5)
start = time.monotonic()
handles = [DBOS.enqueue_workflow("q", noop, i) for i in range(n)]
for h in handles:
    h.get_result()
print(time.monotonic() - start)
DBOS.destroy()
"""


def bare_dbos_queue(n: int, pool: int) -> float:
    with fresh_database() as url:
        try:
            out = subprocess.run([sys.executable, "-c", BARE, str(n), str(pool), url], capture_output=True, text=True,
                                 timeout=TIMEOUT)
        except subprocess.TimeoutExpired as err:
            raise Failed(f"did not finish within {TIMEOUT} s") from err
        if out.returncode != 0:
            raise Failed(out.stderr.strip()[-1500:])
        return float(out.stdout.strip().splitlines()[-1])


# -- 3. takeover ------------------------------------------------------------------------------------
def bench_takeover(base: Path) -> None:
    with fresh_database() as url:
        create(url, 0, "nap")  # migrate
        a, b = make_fleet(base / "takeover", 2, url, 2)
        owner_mode = has_column(url, "workflow_runs", "owner")
        times: list[float] = []
        failures: list[str] = []
        with running([a, b]):
            for round_ in range(KILLS):
                try:
                    times.append(_takeover_once(url, a, b, owner_mode))
                except Failed as err:
                    failures.append(f"kill {round_ + 1}: {err}")
                    print(f"  takeover, kill {round_ + 1}: FAILED: {err}")
                if not a.alive():
                    try:
                        a.start()
                    except Failed as err:
                        print(f"  could not restart daemon A: {err}")
                        break
    how = "owner -> the peer's executor id (epoch bumped)" if owner_mode else "the run's phase rows advancing (no owner column)"
    goal = f"(goal <= lease + 5 s = {LEASE + 5} s)"
    if times:
        print(f"kill -9 of one of 2 daemons (lease {LEASE} s, command phases sleeping {NAP} s) -> its first run continuing on "
              f"the peer [{how}]: p50 {statistics.median(times):.1f} s, max {max(times):.1f} s over {len(times)} of {KILLS} kills "
              f"{goal}")
    else:
        print(f"kill -9 of one of 2 daemons (lease {LEASE} s): FAILED: no run was taken over in {KILLS} kills {goal}")


def _active_runs_of(url: str, executor: str, owner_mode: bool) -> dict[str, int]:
    """Active runs the executor is running now (run id -> owner_epoch), by owner or else by DBOS's executor id."""
    active = "('pending', 'running')"
    if owner_mode:
        rows = query(url, f"SELECT id, owner_epoch FROM workflow_runs WHERE owner = %(e)s AND status IN {active}", {"e": executor})
        if rows:
            return {r["id"]: int(r["owner_epoch"]) for r in rows}
    rows = query(url, f"SELECT r.id FROM workflow_runs r JOIN dbos.workflow_status w ON w.workflow_uuid LIKE 'animus-run:' || r.id || ':%%' "
                      f"WHERE w.executor_id = %(e)s AND w.status = 'PENDING' AND r.status IN {active} "
                      "AND EXISTS (SELECT 1 FROM phase_runs p WHERE p.run_id = r.id)", {"e": executor})
    return {r["id"]: -1 for r in rows}


def _progress(url: str, run_ids: list[str]) -> dict[str, Any]:
    rows = query(url, "SELECT r.id, r.status, r.phase_index, (SELECT COUNT(*) FROM phase_runs p WHERE p.run_id = r.id) AS n, "
                      "(SELECT COUNT(*) FROM phase_runs p WHERE p.run_id = r.id AND p.ended_at IS NOT NULL) AS ended "
                      "FROM workflow_runs r WHERE r.id = ANY(%(ids)s)", {"ids": run_ids})
    return {r["id"]: (r["status"], r["phase_index"], r["n"], r["ended"]) for r in rows}


def _takeover_once(url: str, a: Any, b: Any, owner_mode: bool) -> float:
    enqueue(url, create(url, 8, "nap"))  # enough for both pools (2 each) to be busy
    victims: dict[str, int] = {}

    def a_busy() -> bool:
        victims.update(_active_runs_of(url, a.executor, owner_mode))
        return bool(victims)

    if not wait(a_busy, 60, poll=0.2):
        raise Failed("daemon A ran no run within 60 s")
    by_owner = owner_mode and all(epoch >= 0 for epoch in victims.values())
    a.kill9()
    killed = time.monotonic()
    before = _progress(url, list(victims))  # after the kill: A writes nothing more

    def taken_over() -> bool:
        if by_owner:
            rows = query(url, "SELECT id, owner_epoch FROM workflow_runs WHERE id = ANY(%(ids)s) AND owner = %(b)s",
                         {"ids": list(victims), "b": b.executor})
            return any(int(r["owner_epoch"]) > victims[r["id"]] for r in rows)
        now = _progress(url, list(victims))
        return any(now.get(run) != state for run, state in before.items())

    if not wait(taken_over, LEASE + 30, poll=0.1):
        raise Failed(f"none of A's {len(victims)} runs continued on B within {LEASE + 30} s of the kill"
                     + ("" if by_owner else " (judged by phase rows: the runs' owner is not recorded)"))
    return time.monotonic() - killed


def main() -> None:
    which = sys.argv[1:] or ["throughput", "takeover"]
    try:
        admin("SELECT 1")
    except Exception as err:
        print(f"fleet bench skipped: no PostgreSQL at {PG_URL} ({err}); set BENCH_PG_URL")
        return  # not an error: `./run bench` runs every bench, and this one needs a server
    with tempfile.TemporaryDirectory(prefix="animus-bench-fleet-") as tmp:
        base = Path(tmp)
        for name in which:
            try:
                globals()[f"bench_{name}"](base / name)
            except Failed as err:
                print(f"{name}: FAILED: {err}")


if __name__ == "__main__":
    main()

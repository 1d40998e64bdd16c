"""Several hosts on one machine: a bare origin, one clone and one ANIMUS_HOME per daemon, one PostgreSQL database."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cli import run_animus
from support.daemon import wait_for
from support.engine import live_run_processes
from support.repo import git

CONFIG = """\
default_workflow: main
agents:
  impl:
    tool: scripted
    script: {script}
    max_attempts: 3
    env: {{ANIMUS_FAKE_LEDGER: "{ledger}"}}
phases:
  implementation: {{mode: agent, agent: impl, directive: Build it.}}
workflows:
  - id: main
    phases: [implementation]
    post_success:
      merge: {{strategy: merge, target_branch: main}}
daemon: {{pool_size: {pool}, interval_secs: 0.2, lease_secs: {lease}{more}}}
"""


def impl_script(count: int, sleeps: list[float]) -> dict[str, Any]:
    """``count`` invocations, each writing its own file (every task's branch merges cleanly), sleeping ``sleeps[n]`` first."""
    invocations = []
    for n in range(count):
        invocations.append([
            {"text": f"implementing #{n}"}, {"sleep": sleeps[min(n, len(sleeps) - 1)]},
            {"write": {"path": f"work/f{n}.txt", "content": f"{n}\n"}},
            {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": f"wrote f{n}"}},
        ])
    return {"invocations": invocations}


@dataclass
class Host:
    """One daemon's host: its clone of origin and its own ANIMUS_HOME."""

    name: str
    clone: Path
    home: Path
    db_url: str

    @property
    def env(self) -> dict[str, str]:
        return {"ANIMUS_HOME": str(self.home), "ANIMUS_HTTP_PORT": "0", "ANIMUS_DATABASE_URL": self.db_url}

    def animus(self, *args: str, **kw: Any) -> Any:
        return run_animus(list(args), cwd=self.clone, env=self.env, **kw)

    @property
    def state_dir(self) -> Path:
        from animus.config.project import scope_name

        return self.home / scope_name(self.clone)

    def info(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads((self.state_dir / "daemon.json").read_text()))
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        """Whether this host's daemon process runs (daemon.json stays behind a SIGKILL)."""
        info = self.info()
        if info is None:
            return False
        try:
            stat = Path(f"/proc/{info['pid']}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")

    def executor_id(self) -> str:
        return (self.state_dir / "executor-id").read_text().strip()

    def start(self, env: dict[str, str] | None = None) -> dict[str, Any]:
        result = run_animus(["daemon", "start", "--json"], cwd=self.clone, env={**self.env, **(env or {})}, timeout=90)
        assert result.code == 0, (result.stdout, result.stderr, self.log()[-3000:])
        return dict(result.json())

    def log(self) -> str:
        try:
            return (self.state_dir / "logs" / "daemon.log").read_text()
        except OSError:
            return ""

    def signal(self, sig: int) -> int:
        info = self.info()
        assert info is not None, f"{self.name} has no daemon"
        os.kill(int(info["pid"]), sig)
        return int(info["pid"])

    def agent_pids(self) -> list[int]:
        """Live processes of this host's agent runs (matched on their ANIMUS_RUN_DIR marker)."""
        return live_run_processes(self, "")  # it reads only ``state_dir``

    def agent_runs(self) -> list[dict[str, Any]]:
        """This host's agent runs: id, task label, when it started and (if it ended) how and when."""
        out = []
        runs = self.state_dir / "runs"
        if not runs.is_dir():
            return out
        for run_dir in sorted(runs.iterdir()):
            try:
                spec = json.loads((run_dir / "spec.json").read_text())
            except (OSError, ValueError):
                continue
            ended = None
            try:
                ended = json.loads((run_dir / "exit.json").read_text())
            except (OSError, ValueError):
                pass
            out.append({"id": run_dir.name, "host": self.name, "task": (spec.get("labels") or {}).get("task"),
                        "dir": run_dir, "created_at": spec.get("created_at"), "exit": ended})
        return out


@dataclass
class Fleet:
    origin: Path
    hosts: list[Host]
    ledger: Path
    db_url: str
    killed: list[int] = field(default_factory=list)

    def store(self) -> Any:
        from animus.store import open_store

        return open_store(self.db_url)

    def task_ids(self) -> list[str]:
        with self.store() as store:
            return [t.id for t in store.list_tasks()]

    def statuses(self) -> dict[str, str]:
        with self.store() as store:
            return {t.id: t.status.value for t in store.list_tasks()}

    def runs(self) -> list[Any]:
        with self.store() as store:
            return store.list_runs(limit=10_000)

    def origin_landings(self) -> list[str]:
        """Subjects of the landing commits on origin's main (one per landed task)."""
        out = git(self.origin, "log", "--format=%s", "--grep=Animus-Land:", "main")
        return [line for line in out.splitlines() if line.strip()]

    def cleanup(self) -> None:
        for host in self.hosts:
            info = host.info()
            if info is not None:
                for pid in (int(info["pid"]),):
                    for sig in (signal.SIGCONT, signal.SIGKILL):
                        try:
                            os.kill(pid, sig)
                        except ProcessLookupError:
                            pass
            for pid in host.agent_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def make_fleet(tmp: Path, db_url: str, *, hosts: int = 2, pool: int = 2, lease: float = 2, sleeps: list[float] | None = None,
               tasks: int = 0, more: str = "", count: int = 200, top: str = "") -> Fleet:
    """A bare origin with an animus config on main, ``hosts`` clones of it, and ``tasks`` ready tasks."""
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp / "seed"
    git(tmp, "clone", "-q", str(origin), str(seed))
    shared = tmp / "shared"
    shared.mkdir()
    script = shared / "impl.json"
    script.write_text(json.dumps(impl_script(count, sleeps or [0.5])))
    ledger = shared / "ledger.jsonl"
    (seed / "README.md").write_text("# fleet test\n")
    (seed / ".animus").mkdir()
    (seed / ".animus" / "workflows.yaml").write_text(CONFIG.format(script=script, ledger=ledger, pool=pool, lease=lease, more=more) + top)
    for args in (["config", "user.name", "Test"], ["config", "user.email", "test@example.com"], ["add", "."],
                 ["commit", "-q", "-m", "animus config"], ["push", "-q", "origin", "main"]):
        git(seed, *args)
    made = []
    for n in range(hosts):
        name = "ab"[n] if n < 2 else f"h{n}"
        clone = tmp / f"host-{name}" / "repo"
        clone.parent.mkdir()
        git(tmp, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.name", f"Host {name}")
        git(clone, "config", "user.email", f"{name}@example.com")
        made.append(Host(name, clone, tmp / f"host-{name}" / "home", db_url))
    fleet = Fleet(origin, made, ledger, db_url)
    for n in range(tasks):
        result = made[0].animus("task", "create", "--title", f"Fleet task {n + 1}", "--status", "ready", "--json")
        assert result.code == 0, result.stderr
    return fleet


def overlaps(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def iso_secs(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


__all__ = ["Fleet", "Host", "impl_script", "iso_secs", "make_fleet", "overlaps", "wait_for"]

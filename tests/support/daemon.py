"""Drive `animus daemon` end to end: projects with many tasks, start/stop/kill, waiting on the store."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.engine import Project, live_run_processes, make_project
from support.repo import git


def ok(decision: str = "advance", reason: str = "done", **extra: Any) -> dict[str, Any]:
    return {"decision": {"verdict": decision, "confidence": 0.9, "risk": "low", "reason": reason, **extra}}


def unique_impl_script(count: int, sleeps: list[float] | None = None) -> dict[str, Any]:
    """``count`` invocations, each writing its own file (so every task's branch merges cleanly)."""
    invocations = []
    for n in range(count):
        steps: list[Any] = [{"text": f"implementing #{n}"}]
        if sleeps:
            steps.append({"sleep": sleeps[n % len(sleeps)]})
        steps += [{"write": {"path": f"work/f{n}.txt", "content": f"{n}\n"}},
                  {"usage": {"input_tokens": 10, "output_tokens": 1, "cost_usd": 0.001}}, ok(reason=f"wrote f{n}")]
        invocations.append(steps)
    return {"invocations": invocations}


def review_script(count: int, rework_every: int = 0, sleeps: list[float] | None = None) -> dict[str, Any]:
    invocations = []
    for n in range(count):
        steps: list[Any] = []
        if sleeps:
            steps.append({"sleep": sleeps[n % len(sleeps)]})
        verdict = "rework" if rework_every and n % rework_every == rework_every - 1 else "advance"
        steps.append(ok(verdict, "redo it" if verdict == "rework" else "good"))
        invocations.append(steps)
    return {"invocations": invocations}


def daemon_project(
    tmp: Path, *, pool: int = 2, impl: Any = None, review: Any = None, extra: str = "", budget: int = 3,
    daemon: str = "", **kw: Any
) -> Project:
    """A project whose runs land on ``main`` while ``main`` is checked out nowhere.

    Landing into a checked-out branch happens in that checkout, which two concurrent runs would
    share; landing into a branch checked out nowhere merges in a scratch worktree and moves the
    branch by compare-and-swap, which is safe with a pool larger than one.
    """
    more = f"daemon: {{pool_size: {pool}, interval_secs: 0.2{daemon}}}\n{extra}"
    project = make_project(tmp, impl=impl or unique_impl_script(100), review=review or review_script(100), budget=budget,
                           more=more, strategy="merge, target_branch: main", **kw)
    git(project.repo, "checkout", "-q", "--detach")
    return project


def create_task(project: Project, title: str, *, priority: str = "medium", status: str = "ready",
                deps: tuple[str, ...] = ()) -> str:
    args = ["task", "create", "--title", title, "--priority", priority, "--status", status, "--json"]
    for dep in deps:
        args += ["--depends-on", dep]
    result = project.animus(*args)
    assert result.code == 0, result.stderr
    return str(result.json()["id"])


def daemon_info(project: Project) -> dict[str, Any] | None:
    path = project.state_dir / "daemon.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def start(project: Project, *args: str) -> dict[str, Any]:
    result = project.animus("daemon", "start", "--json", *args, timeout=90)
    assert result.code == 0, (result.stdout, result.stderr, log_text(project)[-3000:])
    return dict(result.json())


def stop(project: Project, *args: str) -> dict[str, Any]:
    result = project.animus("daemon", "stop", "--json", *args, timeout=120)
    assert result.code == 0, result.stderr
    return dict(result.json())


def kill(project: Project) -> int | None:
    """SIGKILL the daemon (its agents, in their own sessions, live on)."""
    info = daemon_info(project)
    if info is None:
        return None
    try:
        os.kill(info["pid"], signal.SIGKILL)
    except ProcessLookupError:
        return None
    wait_for(lambda: not alive(info["pid"]), 10, "the killed daemon to disappear")
    return int(info["pid"])


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cleanup(project: Project) -> None:
    """Kill the daemon and every process of the project's agent runs (end of a test)."""
    kill(project)
    for pid in live_run_processes(project, ""):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def log_text(project: Project) -> str:
    try:
        return (project.state_dir / "logs" / "daemon.log").read_text()
    except OSError:
        return ""


def wait_for(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def task_statuses(project: Project) -> dict[str, str]:
    store = project.store()
    try:
        return {t.id: t.status.value for t in store.list_tasks()}
    finally:
        store.close()


def all_done(project: Project, task_ids: list[str], status: str = "done") -> bool:
    statuses = task_statuses(project)
    return all(statuses.get(t) == status for t in task_ids)


def queue_rows(project: Project) -> list[dict[str, Any]]:
    store = project.store()
    try:
        return [dict(r) for r in store.conn.execute("SELECT * FROM queue_entries ORDER BY enqueued_at")]
    finally:
        store.close()


def run_order(project: Project) -> list[str]:
    """Task ids in the order their runs were created."""
    store = project.store()
    try:
        rows = store.conn.execute("SELECT task_id FROM workflow_runs ORDER BY created_at")
        return [r["task_id"] for r in rows]
    finally:
        store.close()


def new_session_spawns(project: Project) -> Counter[str]:
    """How often each session id was started fresh (``--session-id``); resumes are not counted."""
    counts: Counter[str] = Counter()
    for spawn in project.spawns():
        argv = spawn["argv"]
        if "--session-id" in argv:
            counts[argv[argv.index("--session-id") + 1]] += 1
    return counts


GATED_WORKFLOW = """\
workflows:
  - id: gated
    phases:
      - implementation
      - review: {on_verdict: {rework: {target: implementation}}, max_rework_attempts: 3}
      - signoff
    post_success:
      merge: {strategy: merge, target_branch: main}
"""


def chaos(project: Project, *, tasks: int, kills: int, seed: int, timeout: float,
          gap: tuple[float, float] = (0.3, 2.5)) -> dict[str, Any]:
    """Run ``tasks`` tasks (one through a manual gate) while SIGKILLing the daemon ``kills`` times; count what happened.

    The project's scripts must give every invocation its own file (``unique_impl_script``).
    """
    import random

    rng = random.Random(seed)
    (project.repo / ".animus" / "workflows").mkdir(exist_ok=True)
    (project.repo / ".animus" / "workflows" / "gated.yaml").write_text(GATED_WORKFLOW)
    priorities = ["critical", "high", "medium", "low"]
    ids = ["TASK-1"] + [create_task(project, f"Chaos task {n}", priority=rng.choice(priorities)) for n in range(2, tasks + 1)]
    gated = ids[len(ids) // 3]
    store = project.store()
    try:
        for task_id in ids:
            store.enqueue(task_id, workflow="gated" if task_id == gated else None)
    finally:
        store.close()
    started = time.monotonic()
    start(project)
    killed = approvals = 0
    next_kill = time.monotonic() + rng.uniform(*gap)
    deadline = started + timeout
    while time.monotonic() < deadline:
        statuses = task_statuses(project)
        if all(statuses[t] == "done" for t in ids) and killed >= kills:
            break
        ended_badly = [t for t in ids if statuses[t] in ("blocked", "cancelled")]
        if ended_badly:  # nothing in a chaos run may end so: say it now, not at the timeout
            raise AssertionError(f"chaos seed={seed}: {ended_badly} ended unfinished: {statuses}; {_failures(project)}")
        approvals += _approve_open_gates(project)
        if killed < kills and time.monotonic() >= next_kill:
            kill(project)
            killed += 1
            start(project)
            next_kill = time.monotonic() + rng.uniform(*gap)
        time.sleep(0.1)
    else:
        raise AssertionError(f"chaos seed={seed}: not finished in {timeout}s: {task_statuses(project)}; {_failures(project)}")
    return {"seed": seed, "tasks": ids, "gated": gated, "kills": killed, "approvals": approvals,
            "secs": round(time.monotonic() - started, 1)}


def _approve_open_gates(project: Project) -> int:
    store = project.store()
    try:
        gates = [(p.run_id, p.phase) for r in store.list_runs(statuses=()) if r.status.value == "waiting_manual"
                 for p in store.phase_runs(r.id) if p.status.value == "waiting"]
    finally:
        store.close()
    for run_id, phase in gates:
        result = project.animus("workflow", "approve", run_id, "--phase", phase)
        assert result.code in (0, 4), result.stderr  # 4: answered already, the run moved on
    return len(gates)


def _failures(project: Project) -> list[str]:
    store = project.store()
    try:
        return [f"{r.id}: {r.status.value}: {r.failure_reason}" for r in store.list_runs(statuses=())
                if r.status.is_terminal and r.status.value != "completed"][:5]
    finally:
        store.close()


def source_links(project: Project, source_id: str) -> dict[str, str]:
    """External id → task id of every item the source ``source_id`` linked."""
    store = project.store()
    try:
        return {link.external_id: link.task_id for link in store.source_items(source_id)}
    finally:
        store.close()

"""Drive `animus run` end to end: a project with scripted agents, a spawn ledger, restarts after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cli import run_animus
from support.repo import git, make_repo

IMPL_SCRIPT = {
    "invocations": [
        [
            {"text": "Implementing."},
            {"write": {"path": "a.txt", "content": "first\n"}},
            {"usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}},
            {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"}},
        ],
        [
            {"write": {"path": "b.txt", "content": "second\n"}},
            {"usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}},
            {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote b.txt"}},
        ],
    ]
}
REVIEW_SCRIPT = {
    "invocations": [
        [{"usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.001}},
         {"decision": {"verdict": "rework", "confidence": 0.8, "risk": "low", "reason": "also add b.txt"}}],
        [{"usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.001}},
         {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}],
    ]
}

CONFIG = """\
default_workflow: main
agents:
  impl:
    tool: scripted
    script: .animus/impl.json
    max_attempts: 2
    env: {{ANIMUS_FAKE_LEDGER: "{ledger}"}}
  reviewer:
    tool: scripted
    script: .animus/review.json
    env: {{ANIMUS_FAKE_LEDGER: "{ledger}"}}
phases:
  implementation: {{mode: agent, agent: impl, directive: Build it.}}
  tests:
    mode: command
    command: {{argv: ["python3", "-c", "import pathlib, sys; sys.exit(0 if pathlib.Path('a.txt').exists() else 1)"]}}
  review: {{mode: agent, agent: reviewer, directive: Review it.}}
  signoff: {{mode: manual, manual: {{instructions: Check the branch.}}}}
workflows:
  - id: main
    phases:
      - implementation
{tests_phase}      - review: {{on_verdict: {{rework: {{target: implementation}}}}, max_rework_attempts: {budget}}}
{extra_phases}    post_success:
      merge: {{strategy: {strategy}}}
{more}"""


@dataclass
class Project:
    repo: Path
    ledger: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        # any free port for a daemon's API, so parallel tests never contend for 4177
        return {"ANIMUS_HOME": str(self.home), "ANIMUS_HTTP_PORT": "0"}

    def animus(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> Any:
        return run_animus(list(args), cwd=self.repo, env={**self.env, **(env or {})}, **kw)

    def spawns(self) -> list[dict[str, Any]]:
        if not self.ledger.exists():
            return []
        return [json.loads(line) for line in self.ledger.read_text().splitlines() if line.strip()]

    def store(self) -> Any:
        from animus.config.project import state_dir_for
        from animus.store import open_store

        os.environ["ANIMUS_HOME"] = str(self.home)
        return open_store(db_path=state_dir_for(self.repo) / "animus.db")

    @property
    def state_dir(self) -> Path:
        from animus.config.project import state_dir_for

        os.environ["ANIMUS_HOME"] = str(self.home)
        return state_dir_for(self.repo)


def make_project(
    tmp: Path,
    *,
    impl: Any = None,
    review: Any = None,
    budget: int = 2,
    tests_phase: bool = False,
    manual: bool = False,
    strategy: str = "merge",
    more: str = "",
) -> Project:
    repo = make_repo(tmp / "repo")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.com")
    ledger = tmp / "ledger.jsonl"
    extra = ""
    tests_entry = "      - tests: {on_verdict: {rework: {target: implementation}}}\n" if tests_phase else ""
    if manual:
        extra += "      - signoff\n"
    config_dir = repo / ".animus"
    config_dir.mkdir()
    (config_dir / "workflows.yaml").write_text(
        CONFIG.format(ledger=ledger, budget=budget, extra_phases=extra, tests_phase=tests_entry, strategy=strategy, more=more)
    )
    (config_dir / "impl.json").write_text(json.dumps(impl or IMPL_SCRIPT))
    (config_dir / "review.json").write_text(json.dumps(review or REVIEW_SCRIPT))
    git(repo, "add", ".animus")
    git(repo, "commit", "-q", "-m", "animus config")
    project = Project(repo=repo, ledger=ledger, home=tmp / "home")
    created = project.animus("task", "create", "--title", "Do the thing", "--status", "ready")
    assert created.code == 0, created.stderr
    return project


@dataclass
class Drive:
    """What happened while driving a run to its end: exit codes of each executor process, approvals."""

    exits: list[int] = field(default_factory=list)
    approvals: int = 0
    outputs: list[str] = field(default_factory=list)


def drive(
    project: Project,
    task: str = "TASK-1",
    *,
    fault: str | None = None,
    approve: bool | None = True,
    max_starts: int = 4,
    timeout: float = 120,
    on_waiting: Callable[[Project, str], None] | None = None,
    approver: str = "cli",
    env: dict[str, str] | None = None,
    command: tuple[str, ...] = ("run",),
) -> Drive:
    """Run `animus run TASK` (or ``command``) until it ends; restart it after a SIGKILL; answer manual gates."""
    result = Drive()
    deadline = time.monotonic() + timeout
    answered: set[tuple[str, str, int]] = set()
    for start in range(max_starts):
        run_env = {**os.environ, **project.env, **(env or {})}
        run_env.pop("ANIMUS_FAULT", None)
        if fault and start == 0:
            run_env["ANIMUS_FAULT"] = fault
        proc = subprocess.Popen(
            [sys.executable, "-m", "animus.cli.main", *command, task],
            cwd=project.repo, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"run of {task} did not finish in {timeout}s")
            gate = _open_gate(project, task)
            if gate and gate not in answered and approve is not None:
                run_id, phase, attempt = gate
                if on_waiting:
                    on_waiting(project, run_id)
                if approver == "cli":
                    verb = "approve" if approve else "reject"
                    done = project.animus("workflow", verb, run_id, "--phase", phase, "--note", "from the test")
                    assert done.code == 0, done.stderr
                else:  # the same service function the CLI calls, without a process start per approval
                    from animus.engine import decide_gate

                    store = project.store()
                    try:
                        decide_gate(store, store.url, run_id, phase, approve=bool(approve), note="from the test")
                    finally:
                        store.close()
                answered.add(gate)
                result.approvals += 1
            time.sleep(0.1)
        out = proc.stdout.read().decode() if proc.stdout else ""
        result.outputs.append(out)
        result.exits.append(proc.returncode)
        if proc.returncode != -signal.SIGKILL:
            return result
    raise AssertionError(f"run of {task} was killed {max_starts} times: {result.exits}")


def _open_gate(project: Project, task: str) -> tuple[str, str, int] | None:
    store = project.store()
    try:
        run = store.active_run_for_task(task)
        if run is None or run.status.value != "waiting_manual":
            return None
        for phase in store.phase_runs(run.id):
            if phase.status.value == "waiting":
                return run.id, phase.phase, phase.attempt
        return None
    finally:
        store.close()


def live_run_processes(project: Project, prefix: str) -> list[int]:
    """Pids of live processes of this project's agent runs whose id starts with ``prefix``.

    Matched on ANIMUS_RUN_DIR (an absolute path), so parallel tests with equal run ids never mix.
    """
    marker = str(project.state_dir / "runs" / prefix)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"ANIMUS_RUN_DIR=" + marker.encode()):
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    break
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
                break
    return found


def outcome_of(project: Project, task: str = "TASK-1") -> dict[str, Any]:
    """Everything a run's result consists of, for comparing interrupted and uninterrupted runs."""
    store = project.store()
    try:
        runs = store.list_runs(task_id=task)
        assert len(runs) == 1, f"expected exactly one run, got {[r.id for r in runs]}"
        run = runs[0]
        task_row = store.get_task(task)
        decisions = [(d.phase, d.attempt, d.source, d.verdict, d.effective) for d in store.decisions(run.id)]
        phases = [(p.phase, p.attempt, p.status.value) for p in store.phase_runs(run.id)]
    finally:
        store.close()
    files = git(project.repo, "ls-tree", "-r", "--name-only", "main").split()
    trailers = git(project.repo, "log", "--all", "--format=%(trailers:key=Animus-Run,valueonly)").split()
    merges = git(project.repo, "rev-list", "--merges", "main").split()
    return {
        "run_status": run.status.value,
        "task_status": task_row.status.value,
        "decisions": decisions,
        "phases": phases,
        "files_on_main": sorted(files),
        "run_commits": sorted(trailers),
        "merges": len(merges),
        "tokens": (run.input_tokens, run.output_tokens),
    }


def escalated_project(tmp: Path) -> Project:
    """A project whose run escalated (review sent it back twice, budget 1); its third review advances."""
    review = {"invocations": [
        [{"decision": {"verdict": "rework", "confidence": 0.9, "risk": "low", "reason": "not yet"}}],
        [{"decision": {"verdict": "rework", "confidence": 0.9, "risk": "low", "reason": "still not"}}],
        [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "now"}}],
    ]}
    impl = [{"write": {"path": "a.txt", "content": "x\n"}}, {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "ok"}}]
    project = make_project(tmp, impl=impl, review=review, budget=1)
    assert drive(project).exits == [1]
    return project

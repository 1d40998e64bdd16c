"""Projects whose runs land through a pull request on the fake GitHub, and a foreground run to watch while it waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.engine import Project, make_project
from support.repo import git

REPO = "acme/repo"
TOKEN = "t0ken"
BRANCH = "animus/task-1"
APPROVE_ALL = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]


def pr_project(tmp: Path, pr_loop: str, *, impl: Any = None, review: Any = None, more: str = "") -> tuple[Project, Path]:
    """A project (origin: a bare repository) whose workflow lands with ``create_pr`` and ``pr_loop: <pr_loop>``."""
    project = make_project(tmp, impl=impl, review=review or APPROVE_ALL, more=more)
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    git(project.repo, "remote", "add", "origin", str(origin))
    git(project.repo, "push", "-q", "origin", "main")
    config = project.repo / ".animus" / "workflows.yaml"
    config.write_text(config.read_text().replace(
        "merge: {strategy: merge}", f"merge: {{strategy: merge, create_pr: true, pr_loop: {pr_loop}}}"))
    checked = project.animus("config", "validate")
    assert checked.code == 0, checked.stderr
    git(project.repo, "commit", "-q", "-am", "land through a pull request")
    return project, origin


def github_env(url: str) -> dict[str, str]:
    """What animus needs to reach the fake (the origin is a path, so the repository is named as Actions names it)."""
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": url, "GITHUB_REPOSITORY": REPO}


def start_run(
    project: Project, env: dict[str, str], *, fault: str | None = None, command: tuple[str, ...] = ("run", "TASK-1"),
) -> subprocess.Popen[bytes]:
    """`animus run TASK-1` (or ``command``) in the background (the test plays GitHub's people meanwhile)."""
    run_env = {**os.environ, **project.env, **env}
    run_env.pop("ANIMUS_FAULT", None)
    if fault:
        run_env["ANIMUS_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "animus.cli.main", *command], cwd=project.repo, env=run_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the run did not end in {timeout}s:\n{out.decode()[-4000:]}") from None
    return proc.returncode, out.decode()


def run_row(project: Project, run_id: str = "TASK-1.main.1") -> Any:
    store = project.store()
    try:
        return store.get_run(run_id)
    except Exception:
        return None
    finally:
        store.close()


def pr_decisions(project: Project, run_id: str = "TASK-1.main.1") -> list[tuple[str, str, str]]:
    """(verdict, effective, reason) of each decision the PR loop recorded."""
    store = project.store()
    try:
        return [(d.verdict, d.effective, d.reason) for d in store.decisions(run_id) if d.source == "pr"]
    finally:
        store.close()


def wait_until(condition: Any, what: str, timeout: float = 90, proc: subprocess.Popen[bytes] | None = None) -> Any:
    """Poll ``condition`` until it is truthy; fail early (with its output) when ``proc`` ended meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the run ended ({proc.returncode}) while waiting for {what}:\n{out[-4000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def waiting_at(project: Project, origin: Path, head: str | None = None) -> str | None:
    """The PR branch's head on the origin once the run waits on its PR (and the head is not ``head``)."""
    run = run_row(project)
    if run is None or run.status.value != "waiting_pr":
        return None
    sha = git(origin, "rev-parse", f"refs/heads/{BRANCH}").strip()
    return sha if sha != head else None


def agent_prompts(project: Project) -> list[str]:
    """The prompt of every agent spawn, in order (the scripted CLI takes it after ``-p``)."""
    prompts = []
    for spawn in project.spawns():
        argv = spawn["argv"]
        prompts.append(argv[argv.index("-p") + 1] if "-p" in argv else json.dumps(argv))
    return prompts

"""A log storage plugin through the daemon: an agent run's events arrive as log/entry, log_storage/tail returns them,
and a plugin that never answers costs the run nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from animus import agents
from animus.plugins import LogSink, PluginHost
from support.daemon import cleanup, daemon_project, log_text, wait_for
from support.engine import Project
from support.plugins import PY_LOG, install


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., tuple[Project, dict[str, str]]]]:
    made: list[Project] = []

    def build(mode: str = "") -> tuple[Project, dict[str, str]]:
        project = daemon_project(tmp_path / f"p{len(made)}")
        made.append(project)
        install(project.repo, PY_LOG)
        (project.repo / ".animus" / "plugins.yaml").write_text(
            "plugins:\n  pylog: {binary: .animus/plugins/animus-plugin-pylog, env: [PYLOG_DIR, PYLOG_MODE]}\n")
        env = {"PYLOG_DIR": str(tmp_path / f"logs{len(made)}"), "PYLOG_MODE": mode}
        locked = project.animus("plugin", "lock")
        assert locked.code == 0, locked.stderr
        return project, env

    yield build
    for project in made:
        cleanup(project)


def _start(project: Project, env: dict[str, str]) -> None:
    assert project.animus("queue", "enqueue", "TASK-1").code == 0
    started = project.animus("daemon", "start", "--json", env=env, timeout=90)
    assert started.code == 0, (started.stderr, log_text(project)[-2000:])


def _done(project: Project) -> bool:
    store = project.store()
    try:
        return store.get_task("TASK-1").status.value == "done"
    finally:
        store.close()


def _agent_runs(project: Project) -> list[str]:
    return sorted(p.name for p in (project.state_dir / "runs").iterdir() if p.name.startswith("TASK-1."))


def _wait_stored(path: Path, count: int) -> None:
    wait_for(lambda: path.exists() and len(path.read_text().splitlines()) >= count, 30, f"{count} entries in {path.name}")


def _tail(project: Project, env: dict[str, str], run_id: str, limit: int = 100) -> list[dict[str, Any]]:
    with PluginHost(project.repo, project.state_dir, environ={**env, "PATH": "/usr/bin:/bin"}) as host:
        return list(host.call("pylog", "log_storage/tail", {"run_id": run_id, "limit": limit})["entries"])


def test_the_events_of_every_agent_run_arrive_once_and_tail_returns_them(make: Callable[..., tuple[Project, dict[str, str]]]) -> None:
    project, env = make()
    _start(project, env)
    wait_for(lambda: _done(project), 90, "the task to land")
    runs = _agent_runs(project)
    assert len(runs) >= 2, runs  # implementation and review, at least
    for run_id in runs:
        expected = [event.to_dict() for event in agents.read_run(run_id, project.state_dir / "runs").events]
        _wait_stored(Path(env["PYLOG_DIR"]) / f"{run_id}.jsonl", len(expected))
        entries = _tail(project, env, run_id, limit=1000)
        assert [e["event"] for e in entries] == expected
        assert [e["entry_id"] for e in entries] == [f"{run_id}:{n}" for n in range(len(expected))]
        assert {e["task_id"] for e in entries} == {"TASK-1"} and all(e["workflow_run_id"] for e in entries)
    last = runs[-1]
    count = len(agents.read_run(last, project.state_dir / "runs").events)
    assert [e["seq"] for e in _tail(project, env, last, limit=2)] == [count - 2, count - 1]  # the newest, oldest first


def test_a_log_plugin_that_never_answers_does_not_slow_or_fail_a_run(make: Callable[..., tuple[Project, dict[str, str]]]) -> None:
    project, env = make(mode="hang")
    started = time.monotonic()
    _start(project, env)
    wait_for(lambda: _done(project), 90, "the task to land although its log storage hangs")
    assert time.monotonic() - started < 45
    assert (project.state_dir / "logs" / "plugins" / "pylog.log").exists()  # the plugin was started and sent entries
    assert not list(Path(env["PYLOG_DIR"]).glob("*.jsonl"))  # nothing stored: the plugin never took an entry


def test_the_sink_buffer_is_bounded_and_keeps_the_newest_while_the_plugin_is_down(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / ".animus").mkdir(parents=True)
    install(root, PY_LOG)
    env = {"PYLOG_DIR": str(tmp_path / "logs"), "PATH": "/usr/bin:/bin"}
    (root / ".animus" / "plugins.yaml").write_text("plugins:\n  pylog: {binary: .animus/plugins/animus-plugin-pylog, env: [PYLOG_DIR]}\n")
    host = PluginHost(root, tmp_path / "state", environ=env)
    sink = LogSink(host, ["pylog"], capacity=3)  # not locked yet: every delivery is refused, like a plugin that is down
    try:
        began = time.monotonic()
        for n in range(10):
            sink.offer({"entry_id": f"r:{n}", "run_id": "r", "seq": n, "event": {"kind": "text", "text": str(n)}})
        assert time.monotonic() - began < 0.5  # offering never waits on the plugin
        stats = sink.stats()["pylog"]
        assert stats["dropped"] >= 7 and stats["pending"] <= 3, stats
        host.lock()  # the plugin comes up: what the buffer kept is delivered, oldest first
        assert sink.flush(timeout=15), sink.stats()
        kept = [json.loads(line)["seq"] for line in (tmp_path / "logs" / "r.jsonl").read_text().splitlines()]
        assert kept == [7, 8, 9]
    finally:
        sink.close()
        host.close()

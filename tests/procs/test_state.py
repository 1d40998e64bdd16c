"""Judging a run from its directory: PID reuse, a dead supervisor, lost runs, listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from animus.procs import attach, launch, list_runs, sweep_orphans


def _start_time(pid: int) -> int:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return int(data[data.rfind(b")") + 2 :].split()[19])


def test_recycled_pid_is_not_taken_for_a_live_run(runs_dir: Path, helpers: Any) -> None:
    # two unrelated live processes now hold the pids the (dead) run once had
    strangers = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        run = runs_dir / "recycled"
        run.mkdir(parents=True)
        (run / "spec.json").write_text(json.dumps({"run_id": "recycled", "created_at": "2020-01-01T00:00:00+00:00"}))
        (run / "pid.json").write_text(
            json.dumps(
                {
                    "supervisor_pid": strangers[0].pid,
                    "supervisor_start_time": _start_time(strangers[0].pid) + 1,
                    "agent_pid": strangers[1].pid,
                    "agent_pgid": strangers[1].pid,
                    "agent_start_time": _start_time(strangers[1].pid) - 1,
                    "started_at": "2020-01-01T00:00:01+00:00",
                }
            )
        )
        state = attach("recycled", runs_dir).state()
        assert state.status == "lost"
        assert state.exit is not None and state.exit.reason == "supervisor_lost"
        assert json.loads((run / "exit.json").read_text())["reason"] == "supervisor_lost"
        assert sweep_orphans(runs_dir, set()) == []
        assert all(helpers.running(p.pid) for p in strangers)
    finally:
        for p in strangers:
            p.kill()
            p.wait()


def test_supervisor_killed_while_agent_runs(runs_dir: Path, make_spec: Any, helpers: Any) -> None:
    code = textwrap.dedent("""
        import time
        for i in range(30):
            print(f"line {i}", flush=True)
            time.sleep(0.02)
    """)
    handle = launch(make_spec("nosuper", code, timeout_secs=30), runs_dir)
    info = handle.pid_info()
    assert info is not None
    os.kill(info.supervisor_pid, signal.SIGKILL)
    helpers.wait_for(lambda: not helpers.running(info.supervisor_pid))
    state = attach("nosuper", runs_dir).state()
    assert (state.status, state.supervisor_alive) in {("running", False), ("lost", False)}
    lines = [line for line, _ in attach("nosuper", runs_dir).follow()]
    assert lines == [f"line {i}\n".encode() for i in range(30)]
    final = attach("nosuper", runs_dir).state()
    assert final.status == "lost"
    assert final.exit is not None and final.exit.reason == "supervisor_lost" and final.exit.exit_code is None
    assert final.exit.stdout_bytes == sum(map(len, lines))
    assert attach("nosuper", runs_dir).wait(timeout=5) == final.exit


def test_supervisor_killed_state_reports_running_while_agent_lives(
    runs_dir: Path, make_spec: Any, helpers: Any
) -> None:
    handle = launch(make_spec("lingers", "import time; time.sleep(30)"), runs_dir)
    info = handle.pid_info()
    assert info is not None
    os.kill(info.supervisor_pid, signal.SIGKILL)
    helpers.wait_for(lambda: not helpers.running(info.supervisor_pid))
    state = handle.state()
    assert (state.status, state.supervisor_alive, state.agent_alive) == ("running", False, True)
    assert not (handle.dir / "exit.json").exists()


def test_run_directory_that_never_got_a_supervisor_becomes_spawn_failed(runs_dir: Path) -> None:
    run = runs_dir / "abandoned"
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({"run_id": "abandoned", "created_at": "2020-01-01T00:00:00+00:00"}))
    state = attach("abandoned", runs_dir).state()
    assert state.status == "finished" and state.exit is not None and state.exit.reason == "spawn_failed"


def test_run_directory_being_started_counts_as_running(runs_dir: Path) -> None:
    (runs_dir / "starting").mkdir(parents=True)
    assert attach("starting", runs_dir).state().status == "running"
    assert list(attach("starting", runs_dir).follow(wait=False)) == []


def test_list_runs_reports_status_labels_and_reason(runs_dir: Path, make_spec: Any) -> None:
    done = launch(make_spec("a-done", "print(1)", labels={"task": "T-1", "phase": "implement"}), runs_dir)
    done.wait(10)
    live = launch(make_spec("b-live", "import time; time.sleep(30)"), runs_dir)
    runs = {r.run_id: r for r in list_runs(runs_dir)}
    assert runs["a-done"].status == "finished" and runs["a-done"].exit_reason == "exited"
    assert runs["a-done"].labels == {"task": "T-1", "phase": "implement"}
    assert runs["b-live"].status == "running" and runs["b-live"].exit_reason is None
    assert [r.run_id for r in list_runs(runs_dir)] == ["a-done", "b-live"]
    live.stop(grace=0.1)
    assert list_runs(runs_dir / "missing") == []


def test_stderr_tail_returns_the_last_bytes(runs_dir: Path, make_spec: Any) -> None:
    handle = launch(make_spec("err", "import sys; sys.stderr.write('a' * 5000 + 'THE END')"), runs_dir)
    handle.wait(10)
    assert handle.read_stderr_tail(7) == b"THE END"
    assert len(handle.read_stderr_tail(10**6)) == 5007
    assert handle.wait(10).stderr_bytes == 5007

"""Timeouts and stop end the WHOLE tree of a run, also a grandchild that ignores SIGTERM in its own session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from animus.procs import RunSpec, attach, launch

# The agent and a grandchild that left its process group and session both ignore SIGTERM and
# record their pids; the agent then either stays silent or chatters forever.
STUBBORN_TREE = textwrap.dedent("""
    import os, signal, sys, time
    pids, chatter = sys.argv[1], sys.argv[2] == "chatter"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open(pids, "a").write(f"{os.getpid()}\\n")
            while True:
                time.sleep(0.05)
        os._exit(0)
    open(pids, "a").write(f"{os.getpid()}\\n")
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
        if chatter:
            print("tick", flush=True)
""")


def _tree_spec(make_spec: Callable[..., RunSpec], run_id: str, pids: Path, mode: str, **kw: Any) -> RunSpec:
    spec = make_spec(run_id, STUBBORN_TREE, **kw)
    return RunSpec(**{**spec.__dict__, "argv": [*spec.argv, str(pids), mode]})


def _pids(path: Path, helpers: Any) -> list[int]:
    helpers.wait_for(lambda: path.exists() and len(path.read_text().splitlines()) == 2)
    return [int(p) for p in path.read_text().split()]


def test_idle_timeout_kills_the_whole_tree(runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any) -> None:
    pids_file = tmp_path / "pids"
    handle = launch(_tree_spec(make_spec, "idle", pids_file, "quiet", idle_timeout_secs=0.5), runs_dir)
    pids = _pids(pids_file, helpers)
    exit = handle.wait(timeout=20)
    assert exit.reason == "idle_timeout"
    assert exit.signal == signal.SIGKILL
    assert [p for p in pids if helpers.running(p)] == []


def test_hard_timeout_kills_a_chattering_tree(runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any) -> None:
    pids_file = tmp_path / "pids"
    handle = launch(
        _tree_spec(make_spec, "hard", pids_file, "chatter", timeout_secs=1.0, idle_timeout_secs=0.5), runs_dir
    )
    pids = _pids(pids_file, helpers)
    exit = handle.wait(timeout=20)
    assert exit.reason == "timeout"
    assert [p for p in pids if helpers.running(p)] == []
    assert json.loads((handle.dir / "exit.json").read_text())["reason"] == "timeout"


def test_agent_that_honours_sigterm_exits_within_grace(runs_dir: Path, make_spec: Any) -> None:
    code = "import time\nprint('up', flush=True)\ntime.sleep(60)"
    handle = launch(make_spec("polite", code, timeout_secs=0.5, grace_secs=30), runs_dir)
    exit = handle.wait(timeout=20)
    # had it waited out the 30 s grace, wait() would have raised
    assert (exit.reason, exit.signal) == ("timeout", signal.SIGTERM)


def test_stop_from_another_process_ends_the_tree(runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any) -> None:
    pids_file = tmp_path / "pids"
    launch(_tree_spec(make_spec, "stopme", pids_file, "quiet"), runs_dir)
    pids = _pids(pids_file, helpers)
    code = f"from pathlib import Path; from animus.procs import stop; print(stop('stopme', Path({str(runs_dir)!r}), grace=0.3).reason)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=True).stdout
    assert out == b"stopped\n"
    assert [p for p in pids if helpers.running(p)] == []
    assert attach("stopme", runs_dir).state().status == "finished"


def test_stop_of_a_finished_run_returns_its_record(runs_dir: Path, make_spec: Any) -> None:
    handle = launch(make_spec("done", "print('x')"), runs_dir)
    handle.wait(10)
    assert handle.stop() == handle.wait(10)
    assert not (handle.dir / "stop").exists()


def test_stop_without_supervisor_kills_the_tree_itself(
    runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any
) -> None:
    pids_file = tmp_path / "pids"
    handle = launch(_tree_spec(make_spec, "orphaned", pids_file, "quiet"), runs_dir)
    pids = _pids(pids_file, helpers)
    info = handle.pid_info()
    assert info is not None
    os.kill(info.supervisor_pid, signal.SIGKILL)
    helpers.wait_for(lambda: not helpers.running(info.supervisor_pid))
    exit = handle.stop(grace=0.2)
    assert exit is not None and exit.reason == "stopped"
    assert [p for p in pids if helpers.running(p)] == []


def test_timeout_is_enforced_by_a_waiter_when_the_supervisor_died(
    runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any
) -> None:
    pids_file = tmp_path / "pids"
    handle = launch(_tree_spec(make_spec, "adopted", pids_file, "chatter", timeout_secs=1.0), runs_dir)
    pids = _pids(pids_file, helpers)
    info = handle.pid_info()
    assert info is not None
    os.kill(info.supervisor_pid, signal.SIGKILL)
    exit = attach("adopted", runs_dir).wait(timeout=20)
    assert exit.reason == "timeout"
    assert [p for p in pids if helpers.running(p)] == []


def test_processes_left_behind_by_an_agent_that_exited_are_killed(
    runs_dir: Path, tmp_path: Path, make_spec: Any, helpers: Any
) -> None:
    pid_file = tmp_path / "bg"
    code = textwrap.dedent(f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
            os._exit(0)
        while not os.path.exists({str(pid_file)!r}):
            time.sleep(0.01)
    """)
    handle = launch(make_spec("leaves", code), runs_dir)
    exit = handle.wait(timeout=20)
    assert (exit.reason, exit.exit_code) == ("exited", 0)
    assert not helpers.running(int(pid_file.read_text()))

"""launch/attach: detached runs survive their launcher, re-attach without gaps, start at most once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from animus.domain.errors import InvalidInput, NotFound, SpawnError
from animus.procs import RunSpec, attach, build_env, launch

COUNT_SLOWLY = textwrap.dedent("""
    import sys, time
    n, pause = int(sys.argv[1]), float(sys.argv[2])
    for i in range(n):
        print(f"line {i}", flush=True)
        time.sleep(pause)
""")

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _counting_spec(run_id: str, cwd: Path, n: int, pause: float) -> RunSpec:
    return RunSpec(
        run_id=run_id,
        argv=[sys.executable, "-c", COUNT_SLOWLY, str(n), str(pause)],
        cwd=str(cwd),
        env=build_env(os.environ, {}),
        timeout_secs=60,
    )


def _launcher_code(runs_dir: Path, spec: RunSpec, then: str) -> str:
    return textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from animus.procs import RunSpec, launch
        spec = RunSpec(run_id={spec.run_id!r}, argv={spec.argv!r}, cwd={spec.cwd!r}, env={spec.env!r},
                       timeout_secs={spec.timeout_secs!r})
        {then}
    """)


def test_run_outlives_sigkilled_launcher_and_is_read_exactly_once(runs_dir: Path, tmp_path: Path) -> None:
    spec = _counting_spec("survivor", tmp_path, 25, 0.02)
    code = _launcher_code(
        runs_dir,
        spec,
        f"""h = launch(spec, Path({str(runs_dir)!r}))
        print("launched", flush=True)
        time.sleep(60)""",
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC}
    )
    assert launcher.stdout is not None
    assert launcher.stdout.readline() == b"launched\n"
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    lines = [line for line, _ in attach("survivor", runs_dir).follow(0)]
    assert lines == [f"line {i}\n".encode() for i in range(25)]
    exit = attach("survivor", runs_dir).wait(timeout=10)
    assert (exit.reason, exit.exit_code, exit.signal) == ("exited", 0, None)
    assert exit.stdout_bytes == sum(len(line) for line in lines)


def test_reattach_from_saved_offset_continues_without_gap_or_duplicate(runs_dir: Path, tmp_path: Path) -> None:
    handle = launch(_counting_spec("reattach", tmp_path, 40, 0.01), runs_dir)
    first = []
    offset = 0
    for line, after in handle.follow(0):
        first.append(line)
        offset = after
        if len(first) == 7:
            break
    rest = [line for line, _ in attach("reattach", runs_dir).follow(offset)]
    assert first + rest == [f"line {i}\n".encode() for i in range(40)]


def test_follow_offsets_point_after_each_line(runs_dir: Path, tmp_path: Path) -> None:
    handle = launch(_counting_spec("offsets", tmp_path, 5, 0), runs_dir)
    data = b""
    for line, offset in handle.follow():
        data += line
        assert offset == len(data)
    assert data == (handle.dir / "stdout.log").read_bytes()


def test_same_run_id_launched_twice_starts_one_process(runs_dir: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    code = f"import os, time\nopen({str(ledger)!r}, 'a').write(f'{{os.getpid()}}\\n')\ntime.sleep(0.3)"
    spec = RunSpec(run_id="once", argv=[sys.executable, "-c", code], cwd=str(tmp_path), env=build_env(os.environ, {}))
    first = launch(spec, runs_dir)
    second = launch(spec, runs_dir)
    assert first.wait(timeout=10).ok and second.wait(timeout=10).ok
    assert launch(spec, runs_dir).state().status == "finished"
    assert len(ledger.read_text().splitlines()) == 1


def test_same_run_id_launched_concurrently_from_two_processes_starts_one(runs_dir: Path, tmp_path: Path) -> None:
    ledger, go = tmp_path / "ledger", tmp_path / "go"
    code = f"import os, time\nopen({str(ledger)!r}, 'a').write(f'{{os.getpid()}}\\n')\ntime.sleep(0.5)"
    spec = RunSpec(run_id="race", argv=[sys.executable, "-c", code], cwd=str(tmp_path), env=build_env(os.environ, {}))
    launcher = _launcher_code(
        runs_dir,
        spec,
        f"""while not Path({str(go)!r}).exists():
            time.sleep(0.001)
        h = launch(spec, Path({str(runs_dir)!r}))
        print(h.pid_info().agent_pid, flush=True)""",
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, env=env) for _ in range(2)]
    go.touch()
    outs = [p.communicate(timeout=30)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    attach("race", runs_dir).wait(timeout=10)
    assert ledger.read_text().splitlines() == [outs[0].decode().strip()]


def test_missing_program_raises_spawn_error_and_records_why(runs_dir: Path, tmp_path: Path) -> None:
    spec = RunSpec(run_id="nope", argv=["no-such-program-xyz"], cwd=str(tmp_path), env=build_env(os.environ, {}))
    with pytest.raises(SpawnError, match="no-such-program-xyz"):
        launch(spec, runs_dir)
    exit = json.loads((runs_dir / "nope" / "exit.json").read_text())
    assert exit["reason"] == "spawn_failed" and "no-such-program-xyz" in exit["error"]
    assert attach("nope", runs_dir).state().status == "finished"


def test_missing_working_directory_raises_spawn_error(runs_dir: Path, tmp_path: Path) -> None:
    spec = RunSpec(
        run_id="nocwd", argv=[sys.executable, "-V"], cwd=str(tmp_path / "gone"), env=build_env(os.environ, {})
    )
    with pytest.raises(SpawnError, match="working directory"):
        launch(spec, runs_dir)


def test_stdin_bytes_reach_the_agent_and_end_with_eof(runs_dir: Path, tmp_path: Path) -> None:
    payload = b"hello\n" * 50_000  # larger than a pipe buffer
    code = "import sys; data = sys.stdin.buffer.read(); print(len(data), data[:6])"
    spec = RunSpec(
        run_id="stdin",
        argv=[sys.executable, "-c", code],
        cwd=str(tmp_path),
        env=build_env(os.environ, {}),
        stdin=payload,
        timeout_secs=20,
    )
    handle = launch(spec, runs_dir)
    assert handle.wait(timeout=20).ok
    assert [line for line, _ in handle.follow()] == [f"{len(payload)} b'hello\\n'\n".encode()]


def test_without_stdin_bytes_the_agent_reads_eof_at_once(runs_dir: Path, tmp_path: Path) -> None:
    code = "import sys; print(repr(sys.stdin.read()))"
    spec = RunSpec(
        run_id="devnull", argv=[sys.executable, "-c", code], cwd=str(tmp_path), env=build_env(os.environ, {})
    )
    handle = launch(spec, runs_dir)
    assert handle.wait(timeout=10).ok
    assert [line for line, _ in handle.follow()] == [b"''\n"]


def test_exit_code_and_signal_are_recorded(runs_dir: Path, tmp_path: Path) -> None:
    env = build_env(os.environ, {})
    failing = launch(
        RunSpec(run_id="fails", argv=[sys.executable, "-c", "raise SystemExit(3)"], cwd=str(tmp_path), env=env),
        runs_dir,
    )
    killed = launch(
        RunSpec(
            run_id="killed",
            argv=[sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"],
            cwd=str(tmp_path),
            env=env,
        ),
        runs_dir,
    )
    assert (failing.wait(10).exit_code, failing.wait(10).signal, failing.wait(10).reason) == (3, None, "exited")
    assert (killed.wait(10).exit_code, killed.wait(10).signal) == (None, 9)


def test_agent_sees_the_run_markers(runs_dir: Path, tmp_path: Path) -> None:
    code = "import os; print(os.environ['ANIMUS_RUN_ID'], os.environ['ANIMUS_RUN_DIR'])"
    handle = launch(
        RunSpec(run_id="marker", argv=[sys.executable, "-c", code], cwd=str(tmp_path), env=build_env(os.environ, {})),
        runs_dir,
    )
    handle.wait(10)
    assert [line for line, _ in handle.follow()] == [f"marker {os.path.realpath(handle.dir)}\n".encode()]


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-x", "a..b", "x" * 202, ".hidden"])
def test_invalid_run_ids_are_rejected(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        RunSpec(run_id=bad, argv=["true"], cwd=str(tmp_path), env={})


def test_attach_to_unknown_run_is_not_found(runs_dir: Path) -> None:
    runs_dir.mkdir()
    with pytest.raises(NotFound):
        attach("ghost", runs_dir)


def test_a_launcher_killed_while_claiming_leaves_no_run_and_the_next_launch_starts_it_once(
    runs_dir: Path, tmp_path: Path
) -> None:
    # the daemon was killed between claiming the run id and recording its spec: a run dir without a spec
    # had no agent to judge, and its workflow failed ("no `tool` label"); the claim is now one rename
    ledger = tmp_path / "ledger"
    code = f"import os\nopen({str(ledger)!r}, 'a').write(f'{{os.getpid()}}\\n')"
    spec = RunSpec(run_id="claimed", argv=[sys.executable, "-c", code], cwd=str(tmp_path),
                   env=build_env(os.environ, {}), labels={"tool": "fake"})
    launcher = _launcher_code(runs_dir, spec, f"launch(spec, Path({str(runs_dir)!r}))")
    env = {**os.environ, "PYTHONPATH": SRC, "ANIMUS_FAULT": "animus.procs.claim:before"}
    done = subprocess.run([sys.executable, "-c", launcher], env=env, timeout=30, check=False)
    assert done.returncode == -signal.SIGKILL
    assert not (runs_dir / "claimed").exists()
    assert [p.name for p in runs_dir.iterdir() if p.name.startswith(".claim-")]  # the staged claim is left over
    handle = launch(spec, runs_dir)
    assert handle.wait(timeout=10).ok
    assert handle.labels == {"tool": "fake"}
    assert len(ledger.read_text().splitlines()) == 1

"""follow(): complete lines with offsets, huge lines, CRLF, floods read in bounded memory."""

from __future__ import annotations

import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from animus.procs import launch

BIG_LINE = 16 * 1024 * 1024


def test_sixteen_megabyte_line_and_crlf_lines_round_trip(runs_dir: Path, make_spec: Any) -> None:
    code = textwrap.dedent(f"""
        import sys
        out = sys.stdout.buffer
        out.write(b"x" * {BIG_LINE} + b"\\n")
        out.write(b"first\\r\\nsecond\\r\\n\\r\\n")
        out.write(b"no newline at the end")
    """)
    handle = launch(make_spec("big", code, timeout_secs=30), runs_dir)
    got = list(handle.follow())
    assert [len(line) for line, _ in got] == [BIG_LINE + 1, 7, 8, 2, 21]
    assert got[0][0] == b"x" * BIG_LINE + b"\n"
    assert [line for line, _ in got[1:]] == [b"first\r\n", b"second\r\n", b"\r\n", b"no newline at the end"]
    assert got[-1][1] == (handle.dir / "stdout.log").stat().st_size


def test_unterminated_line_waits_for_the_end_of_the_run(runs_dir: Path, make_spec: Any, helpers: Any) -> None:
    code = "import sys, time\nsys.stdout.write('done\\npartial'); sys.stdout.flush(); time.sleep(1.0)"
    handle = launch(make_spec("partial", code, timeout_secs=30), runs_dir)
    helpers.wait_for(lambda: (handle.dir / "stdout.log").stat().st_size == 12)
    assert list(handle.follow(wait=False)) == [(b"done\n", 5)]
    assert list(handle.follow(5, wait=True)) == [(b"partial", 12)]
    assert handle.state().status == "finished"


def test_follow_without_wait_on_a_finished_run_reads_everything(runs_dir: Path, make_spec: Any) -> None:
    handle = launch(make_spec("quick", "print('a'); print('b', end='')"), runs_dir)
    handle.wait(10)
    assert list(handle.follow(wait=False)) == [(b"a\n", 2), (b"b", 3)]
    assert list(handle.follow(3, wait=False)) == []


def _flood(runs_dir: Path, make_spec: Any, run_id: str, megabytes: int, *, width: int, trace: bool) -> None:
    line = b"y" * (width - 1) + b"\n"
    per_mb = (1 << 20) // width
    code = textwrap.dedent(f"""
        import sys
        block = {line!r} * {per_mb}
        for _ in range({megabytes}):
            sys.stdout.buffer.write(block)
    """)
    handle = launch(make_spec(run_id, code, timeout_secs=120), runs_dir)
    expected = megabytes * per_mb * len(line)
    count = total = last = peak = 0
    if trace:
        tracemalloc.start()
    try:
        for got, after in handle.follow(poll=0.01):
            count += 1
            total += len(got)
            last = after
        if trace:
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, total, last) == (megabytes * per_mb, expected, expected)
    assert handle.wait(10).stdout_bytes == expected
    # the reader holds a chunk at a time, never the log
    assert peak < 8 * 1024 * 1024


def test_flood_of_20_megabytes_is_read_in_bounded_memory(runs_dir: Path, make_spec: Any) -> None:
    # 1 KiB lines: tracemalloc taxes every allocation, so fewer lines keep this fast
    _flood(runs_dir, make_spec, "flood20", 20, width=1024, trace=True)


@pytest.mark.slow
def test_flood_of_100_megabytes_is_read_in_bounded_memory(runs_dir: Path, make_spec: Any) -> None:
    _flood(runs_dir, make_spec, "flood100", 100, width=100, trace=False)

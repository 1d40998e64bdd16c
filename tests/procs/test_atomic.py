"""procs.write_atomic, the one atomic-write helper: whole files only, the caller's mode, first writer wins on request."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from animus.procs import write_atomic


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_replaces_the_file_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    assert write_atomic(target, "new\n") is True
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_mode_is_the_callers_and_defaults_to_what_open_gives(tmp_path: Path) -> None:
    write_atomic(tmp_path / "private", b"secret", mode=0o600)
    write_atomic(tmp_path / "plain", "text", durable=True)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o600 & ~_umask()
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_first_wins_never_overwrites_and_says_who_won(tmp_path: Path) -> None:
    target = tmp_path / "executor-id"
    assert write_atomic(target, "first\n", first_wins=True) is True
    assert write_atomic(target, "second\n", first_wins=True) is False
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["executor-id"]


def test_racing_first_writers_end_with_exactly_one_winner(tmp_path: Path) -> None:
    target = tmp_path / "web-token"
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def write(value: str) -> None:
        barrier.wait()
        if write_atomic(target, value, first_wins=True):
            wins.append(value)

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and target.read_text() == wins[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-token"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "daemon.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daemon.json"]

"""procs.private_dir / private_file: state paths readable by their owner only, older wide ones tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from animus import procs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_makes_every_missing_component_0700(tmp_path: Path) -> None:
    target = tmp_path / "home" / "state" / "logs"
    procs.private_dir(target)
    assert [_mode(p) for p in (tmp_path / "home", tmp_path / "home" / "state", target)] == [0o700] * 3


def test_private_dir_tightens_existing_wide_dirs_from_top_down_but_nothing_above(tmp_path: Path) -> None:
    home, state = tmp_path / "home", tmp_path / "home" / "state"
    state.mkdir(parents=True)
    for path in (tmp_path, home, state):
        path.chmod(0o755)
    procs.private_dir(state, top=home)
    assert (_mode(tmp_path), _mode(home), _mode(state)) == (0o755, 0o700, 0o700)


def test_private_file_creates_0600_keeps_contents_and_tightens_a_wide_file(tmp_path: Path) -> None:
    fresh, old = tmp_path / "fresh.log", tmp_path / "old.log"
    procs.private_file(fresh)
    old.write_text("kept\n")
    old.chmod(0o644)
    procs.private_file(old)
    assert (_mode(fresh), _mode(old), old.read_text()) == (0o600, 0o600, "kept\n")


def test_private_paths_do_not_touch_the_process_umask(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        procs.private_dir(tmp_path / "d")
        procs.private_file(tmp_path / "d" / "f")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)

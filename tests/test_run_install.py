"""`./run install` puts only the `animus` command on PATH, never animus's virtualenv (README quick start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _install(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "run"), "install"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL, check=False)


def test_run_install_links_only_the_animus_command_idempotently(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIMUS_", "VIRTUAL_ENV", "PYTEST"))}
    env.update(HOME=str(tmp_path / "home"), ANIMUS_BIN_DIR=str(bin_dir), PATH="/usr/bin:/bin")
    first = _install(env)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in bin_dir.iterdir()) == ["animus"]  # no python, no pytest
    assert f"{bin_dir} is not on your PATH" in first.stderr and f'export PATH="{bin_dir}:$PATH"' in first.stderr
    version = subprocess.run([str(bin_dir / "animus"), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "animus" in version.stdout
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin:/bin"
    again = _install(env)
    assert again.returncode == 0 and "up to date" in again.stdout and "not on your PATH" not in again.stderr
    # on PATH, `animus` is found but `python` is still the system's
    which = subprocess.run(["sh", "-c", "command -v animus; command -v python3"], env=env, capture_output=True, text=True)
    animus, python3 = which.stdout.split()
    assert animus == str(bin_dir / "animus") and not python3.startswith(sys.prefix)


def test_run_install_refuses_to_overwrite_a_foreign_animus(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "animus").write_text("#!/bin/sh\necho someone else's\n")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "ANIMUS_BIN_DIR": str(bin_dir)}
    result = _install(env)
    assert result.returncode == 4 and "was not written by ./run install" in result.stderr
    assert "someone else's" in (bin_dir / "animus").read_text()

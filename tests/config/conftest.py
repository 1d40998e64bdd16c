"""Fixtures for the config tests: the real `animus` CLI as a subprocess and a config writer (repo: tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json_out(self) -> Any:
        return json.loads(self.stdout)

    def json_err(self) -> Any:
        return json.loads(self.stderr)


@pytest.fixture
def animus(tmp_path: Path) -> Callable[..., CliResult]:
    env = {**os.environ, "ANIMUS_HOME": str(tmp_path / "animus-home"), "NO_COLOR": "1"}
    env.pop("ANIMUS_PROJECT_ROOT", None)

    def run(*args: str, cwd: Path) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "animus.cli.main", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


def _write_config(root: Path, text: str, name: str = "workflows.yaml") -> Path:
    target = root / ".animus" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def write_config() -> Callable[..., Path]:
    """``write_config(root, text, name="workflows.yaml")`` writes ``<root>/.animus/<name>``."""
    return _write_config

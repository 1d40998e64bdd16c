"""Run the real `animus` CLI as a subprocess and parse its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CliResult:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The success envelope's ``data`` (asserting the envelope shape)."""
        payload = json.loads(self.stdout)
        assert payload["schema"] == "animus.cli.v1" and payload["ok"] is True, payload
        return payload["data"]

    def error(self) -> dict[str, Any]:
        """The failure envelope's ``error`` from stderr (asserting its shape)."""
        payload = json.loads(self.stderr.strip().splitlines()[-1])
        assert payload["schema"] == "animus.cli.v1" and payload["ok"] is False, payload
        assert payload["error"]["exit_code"] == self.code, (payload, self.code)
        return dict(payload["error"])


def run_animus(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> CliResult:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "animus.cli.main", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    return CliResult(
        list(args),
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )

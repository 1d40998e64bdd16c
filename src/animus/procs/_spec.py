"""What to run: ``RunSpec``, the caller's description of one detached agent run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from animus.domain.errors import InvalidInput

_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,200}")


def _check_run_id(run_id: str) -> str:
    """``run_id`` when it is safe as a directory name, else InvalidInput."""
    if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id) or ".." in run_id:
        raise InvalidInput(
            f"invalid run id {run_id!r}",
            hint="use 1-201 characters from A-Z a-z 0-9 . _ : - starting with a letter or digit, without '..'",
        )
    return run_id


@dataclass(frozen=True)
class RunSpec:
    """One agent run: the program, where and with what it runs, and when it must be stopped.

    ``env`` is the FULL environment of the child (build it with ``build_env``); only its names are
    stored. ``stdin`` None gives the child /dev/null; bytes are written and the pipe closed.
    """

    run_id: str
    argv: list[str]
    cwd: str
    env: dict[str, str]
    timeout_secs: float | None = None
    idle_timeout_secs: float | None = None
    grace_secs: float = 5.0
    stdin: bytes | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_run_id(self.run_id)
        if not self.argv or not all(isinstance(arg, str) for arg in self.argv) or not self.argv[0]:
            raise InvalidInput(f"run {self.run_id}: argv must be a non-empty list of strings")
        if any("\0" in arg for arg in self.argv):
            raise InvalidInput(f"run {self.run_id}: argv must not contain NUL bytes")
        if not self.cwd:
            raise InvalidInput(f"run {self.run_id}: cwd must be given")
        for name, value in (("timeout_secs", self.timeout_secs), ("idle_timeout_secs", self.idle_timeout_secs)):
            if value is not None and not value > 0:
                raise InvalidInput(f"run {self.run_id}: {name} must be positive or None, got {value!r}")
        if not self.grace_secs >= 0:
            raise InvalidInput(f"run {self.run_id}: grace_secs must be >= 0, got {self.grace_secs!r}")
        bad = [name for name, value in self.env.items() if not name or "=" in name or "\0" in name + value]
        if bad:
            raise InvalidInput(f"run {self.run_id}: invalid environment variable name(s): {', '.join(sorted(bad))}")

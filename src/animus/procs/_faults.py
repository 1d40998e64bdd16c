"""The fault hook: ``ANIMUS_FAULT=<step>:<before|after>[:<n>]`` SIGKILLs this process at that step boundary.

Used by the crash-matrix tests to prove every boundary is safe (the engine's steps, the source sync and
status delivery); inert unless the variable is set.
"""

from __future__ import annotations

import os
import signal
import threading

_counts: dict[tuple[str, str], int] = {}
_lock = threading.Lock()


def fault_point(step: str, when: str) -> None:
    """SIGKILL this process when ``ANIMUS_FAULT`` names this point (the nth time it is reached)."""
    spec = os.environ.get("ANIMUS_FAULT")
    if not spec:
        return
    parts = spec.split(":")
    name, moment = parts[0], parts[1] if len(parts) > 1 else "before"
    nth = int(parts[2]) if len(parts) > 2 else 1
    if name != step or moment != when:
        return
    with _lock:
        _counts[(step, when)] = _counts.get((step, when), 0) + 1
        hit = _counts[(step, when)] == nth
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)

"""Running a doc's walk-through as written: its fenced blocks, one bash fed block by block, and the
``text`` blocks it promises (``…`` stands for anything within one line)."""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path


def doc_blocks(doc: Path, section: str) -> list[tuple[str, str]]:
    """The fenced blocks of the doc's ``section`` (a ``## `` heading line) as (language, text), in order."""
    text = doc.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return [(m[1], m[2]) for m in re.finditer(r"^```(\w+)\n(.*?)^```$", text[start:end if end > 0 else None], re.S | re.M)]


def shows(output: str, promised: str) -> bool:
    """``promised`` is in one line of ``output``; ``…`` stands for anything."""
    pattern = ".*?".join(re.escape(part) for part in promised.strip().split("…"))
    return any(re.search(pattern, line) for line in output.splitlines())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(what: str, check: Callable[[], object], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


class Shell:
    """One bash (exports, cwd and background jobs carry over, as in a user's shell), fed block by block;
    each block's output is read up to a marker it echoes last; a failing command ends the shell (``set -e``)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send("set -e -o pipefail", timeout=10)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, block: str, *, timeout: float) -> str:
        assert self.proc.stdin is not None
        marker = f"__block_done_{time.monotonic_ns()}__"
        self.proc.stdin.write(f"{block}\necho {marker}\n")
        self.proc.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"block did not finish in {timeout}s:\n{block}\n--- printed:\n{''.join(out)}") from None
            if line is None:
                raise AssertionError(f"the shell exited (a command failed) in:\n{block}\n--- printed:\n{''.join(out)}")
            if line.strip() == marker:
                return "".join(out)
            out.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

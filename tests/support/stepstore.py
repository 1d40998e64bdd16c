"""`animus step-store serve` as a real subprocess on each transport, with the example client talking to it."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stepstore_client.py"
_spec = importlib.util.spec_from_file_location("stepstore_client", _EXAMPLE)
assert _spec is not None and _spec.loader is not None
client_module: Any = importlib.util.module_from_spec(_spec)
sys.modules["stepstore_client"] = client_module
_spec.loader.exec_module(client_module)
StepStoreClient = client_module.StepStoreClient
StepStoreError = client_module.StepStoreError

TOKEN = "test-token-0123456789abcdef"
_READY = re.compile(r"animus step-store: serving (\S+)")


def serve_argv(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "animus.cli.main", "--project-root", str(root), "step-store", "serve", *extra]


@dataclass
class Server:
    """One server process and how to reach it (``where``: ``stdio``, ``unix:/…`` or ``http://host:port``)."""

    proc: subprocess.Popen[bytes]
    where: str
    stderr_path: Path
    stdio: Any = None
    clients: list[Any] = field(default_factory=list)

    def connect(self) -> Any:
        if self.where == "stdio":
            assert self.stdio is not None, "a stdio server has exactly one client"
            return self.stdio
        if self.where.startswith("unix:"):
            client = StepStoreClient.unix(self.where[5:])
        else:
            host, port = self.where.removeprefix("http://").rsplit(":", 1)
            client = StepStoreClient.http(host, int(port), TOKEN)
        self.clients.append(client)
        return client

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            if self.stdio is not None:
                self.stdio.close()  # stdin closes: the server ends by itself
            else:
                self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _wait_ready(server_stderr: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _READY.search(server_stderr.read_text(errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"the server exited {proc.returncode}: {server_stderr.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"the server never said it was ready: {server_stderr.read_text()}")


_counter = iter(range(1_000_000))


def start_server(root: Path, transport: str, tmp: Path, env: dict[str, str] | None = None) -> Server:
    """Start a server on ``transport`` (stdio | socket | http) and wait until it serves."""
    n = next(_counter)
    stderr_path = tmp / f"step-store-{n}.stderr"
    full_env = {**os.environ, "ANIMUS_STEPSTORE_TOKEN": TOKEN, **(env or {})}
    extra: list[str] = []
    if transport == "socket":
        extra = ["--socket", str(tmp / f"s{n}.sock")]
    elif transport == "http":
        extra = ["--http", "127.0.0.1:0"]
    with stderr_path.open("wb") as stderr:
        if transport == "stdio":
            client = StepStoreClient.spawn(serve_argv(root, *extra), stderr=stderr, env=full_env)
            proc = client.process
        else:
            client = None
            proc = subprocess.Popen(serve_argv(root, *extra), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=stderr, env=full_env)
    where = _wait_ready(stderr_path, proc)
    return Server(proc=proc, where=where, stderr_path=stderr_path, stdio=client)


@contextmanager
def served(root: Path, transport: str, tmp: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = start_server(root, transport, tmp, env)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()

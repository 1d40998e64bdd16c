"""One server's life: start the journal (DBOS), serve one transport, stop the journal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from animus.engine import StepJournal
from animus.stepstore._protocol import StepStoreProtocol
from animus.stepstore._transports import _claim_socket_path, serve_http, serve_socket, serve_stdio
from animus.store import redact_url


@dataclass(frozen=True)
class Stdio:
    """Newline-delimited JSON-RPC on stdin/stdout (the default: a client spawns the server)."""


@dataclass(frozen=True)
class Socket:
    path: Path


@dataclass(frozen=True)
class Http:
    host: str
    port: int
    token: str  # never logged, never on argv


Transport = Stdio | Socket | Http


def _announce(db_url: str) -> Callable[[str], None]:
    """The one ready line on stderr: where the server listens (a test or a supervisor waits for it)."""

    def ready(where: str) -> None:
        print(f"animus step-store: serving {where} (database {redact_url(db_url)})", file=sys.stderr, flush=True)

    return ready


def serve(*, db_url: str, state_dir: Path, transport: Transport, log_file: Path | None = None) -> None:
    """Serve the step-store on ``transport`` until the client leaves (stdio) or a signal stops it."""
    if isinstance(transport, Socket):
        _claim_socket_path(transport.path)  # refuse a live server's socket before DBOS starts
    journal = StepJournal(db_url=db_url, state_dir=state_dir, log_file=log_file)
    journal.start()
    try:
        protocol = StepStoreProtocol(journal)
        ready = _announce(db_url)
        if isinstance(transport, Socket):
            serve_socket(protocol, transport.path, ready=ready)
        elif isinstance(transport, Http):
            serve_http(protocol, transport.host, transport.port, token=transport.token, ready=ready)
        else:
            ready("stdio")
            serve_stdio(protocol)
    finally:
        journal.stop()

"""The step-store's three transports: stdio (the default), a Unix socket, HTTP with a bearer token.

Each carries newline-delimited JSON-RPC 2.0 to one ``StepStoreProtocol``; a connection's messages
are answered in order, connections run side by side (one thread each). Signal handlers only set a
flag; the serving loop notices it and shuts down.
"""

from __future__ import annotations

import hmac
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

from animus.domain.errors import Conflict, InvalidInput
from animus.plugins._jsonrpc import INVALID_REQUEST, MAX_LINE_BYTES, PARSE_ERROR, RpcError, error_response
from animus.stepstore._protocol import StepStoreProtocol


def _lines(stream: BinaryIO, protocol: StepStoreProtocol, write: Callable[[bytes], None]) -> None:
    """Answer every line of ``stream`` until it ends or the client sends ``exit``."""
    while not protocol.exit_requested.is_set():
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            write(error_response(None, RpcError(INVALID_REQUEST, f"message longer than {MAX_LINE_BYTES} bytes")))
            return
        if not line.strip():
            continue
        reply = protocol.handle_line(line)
        if reply is not None:
            write(reply)


def serve_stdio(protocol: StepStoreProtocol, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """Speak the protocol on stdin/stdout until stdin closes (or ``exit``)."""
    reader = stdin or sys.stdin.buffer
    writer = stdout or sys.stdout.buffer

    def write(data: bytes) -> None:
        writer.write(data)
        writer.flush()

    _lines(reader, protocol, write)


class _Stopper:
    """SIGTERM/SIGINT → stop the server from another thread (``shutdown`` blocks until the loop ends)."""

    def __init__(self, server: socketserver.BaseServer) -> None:
        self.server = server

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        threading.Thread(target=self.server.shutdown, daemon=True).start()


def _claim_socket_path(path: Path) -> None:
    """Remove a socket left by a dead server; refuse a live one or a path that is no socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise InvalidInput(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: a server that was killed left it
        return
    finally:
        probe.close()
    raise Conflict(f"a step-store server already listens on {path}")


def serve_socket(protocol: StepStoreProtocol, path: Path, *, ready: Callable[[str], None]) -> None:
    """Listen on the Unix socket ``path`` (mode 0600) until SIGTERM/SIGINT."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            connection = StepStoreProtocol(protocol.journal)  # `exit` ends this connection, not the server
            lock = threading.Lock()

            def write(data: bytes) -> None:
                with lock:
                    self.wfile.write(data)
                    self.wfile.flush()

            try:
                _lines(self.rfile, connection, write)  # type: ignore[arg-type]
            except (BrokenPipeError, ConnectionResetError):
                return

    _claim_socket_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o177)
    try:
        server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
    finally:
        os.umask(old_umask)
    server.daemon_threads = True
    _Stopper(server).install()
    ready(f"unix:{path}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        path.unlink(missing_ok=True)


def serve_http(protocol: StepStoreProtocol, host: str, port: int, *, token: str, ready: Callable[[str], None]) -> None:
    """``POST /`` (or ``/rpc``) with one JSON-RPC message as the body, ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "animus-step-store"

        def log_message(self, format: str, *args: Any) -> None:  # no access log: requests carry payloads
            pass

        def do_POST(self) -> None:
            if self.path not in ("/", "/rpc"):
                self._send(404, b'{"error":"POST / or /rpc"}\n')
                return
            given = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                self._send(401, b'{"error":"a bearer token is required"}\n', {"WWW-Authenticate": "Bearer"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_LINE_BYTES:
                self._send(413, error_response(None, RpcError(INVALID_REQUEST, "missing or oversized Content-Length")))
                return
            body = self.rfile.read(length)
            if not body.strip():
                self._send(400, error_response(None, RpcError(PARSE_ERROR, "empty body")))
                return
            reply = protocol.handle_line(body)
            if reply is None:
                self._send(204, b"")
            else:
                self._send(200, reply)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    _Stopper(server).install()
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    ready(f"http://{bound_host}:{bound_port}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()

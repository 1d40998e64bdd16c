"""Serve an app with uvicorn in a background thread (the daemon's listener, tests, `animus web serve`)."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from animus.domain.errors import InvalidInput, Unavailable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4177
ENV_HTTP_PORT = "ANIMUS_HTTP_PORT"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_port(configured: int | None = None, flag: int | None = None) -> int:
    """``--http-port`` > ``ANIMUS_HTTP_PORT`` > ``daemon.http.port`` > 4177."""
    if flag is not None:
        return flag
    raw = os.environ.get(ENV_HTTP_PORT, "").strip()
    if raw:
        if not raw.isdigit() or not 0 <= int(raw) <= 65535:
            raise InvalidInput(f"{ENV_HTTP_PORT}={raw!r} is not a port number (0-65535)")
        return int(raw)
    return configured if configured is not None else DEFAULT_PORT


@dataclass
class ServerHandle:
    """A running server: where it listens, and ``stop()`` (graceful, bounded)."""

    host: str
    port: int
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


def serve_in_thread(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, ready_timeout: float = 10.0) -> ServerHandle:
    """Start uvicorn on ``host:port`` (0: any free port) in a daemon thread; returns once it accepts connections.

    A non-loopback ``host`` makes the app require the token for reads too.
    """
    import uvicorn

    state = getattr(getattr(app, "state", None), "api", None)
    if state is not None:
        state.bind_host = host if not is_loopback(host) else DEFAULT_HOST
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Unavailable(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint=f"pick another port with --http-port or {ENV_HTTP_PORT}") from exc
    sock.listen(128)
    sock.set_inheritable(False)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"animus-http-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise Unavailable(f"the HTTP server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    return ServerHandle(host, bound_port, server, thread)

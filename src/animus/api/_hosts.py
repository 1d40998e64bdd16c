"""The Host check that runs before routing: a page whose name rebinds to 127.0.0.1 reads nothing (DNS rebinding)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from animus.api._endpoint import _error_response

_LOOPBACK_HOST_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def _host_name(header: str) -> str | None:
    """The name part of a Host header, lower-cased: ``[::1]:4177`` → ``::1``; None when it is malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    else:
        name, _, port = value.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return None
    return name.removesuffix(".") or None


def _addressed_by_loopback(header: str) -> bool:
    """The request named a loopback host (not an allowed name, which is how a proxy or a LAN client reaches us)."""
    return _host_name(header) in _LOOPBACK_HOST_NAMES


def _normalize_host(entry: str) -> str:
    """An ``allowed_hosts`` entry as the check compares it (``[::1]`` → ``::1``, no case, no trailing dot)."""
    return entry.strip().lower().removeprefix("[").removesuffix("]").removesuffix(".")


class HostGuard:
    """Answers 421 to any request whose Host is not loopback, the bound address or an allowed name, before routing.

    Reads on a loopback bind need no token, so the Host header is what tells the daemon's own
    clients (``127.0.0.1``, ``localhost``, ``[::1]``, any port) from a web page whose name was
    rebound to 127.0.0.1: the browser sends that page's name. ``bind_host`` is read per request
    because ``serve_in_thread`` sets it after the app is built.
    """

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str], bind_host: Callable[[], str]) -> None:
        self.app = app
        self.allowed = _LOOPBACK_HOST_NAMES | {_normalize_host(h) for h in allowed}
        self.bind_host = bind_host

    def accepts(self, header: str) -> bool:
        name = _host_name(header)
        if name is None:
            return False
        if name in self.allowed:
            return True
        bound = _normalize_host(self.bind_host())
        return bound not in _WILDCARD_BINDS and _same_address(name, bound)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
        if self.accepts(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = _error_response(
            421, "misdirected_request", f"this server does not answer for host {header[:100]!r}",
            hint="use http://127.0.0.1:<port>, or list the name in daemon.http.allowed_hosts",
        )
        await response(scope, receive, send)


def _same_address(name: str, bound: str) -> bool:
    if name == bound:
        return True
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(bound)
    except ValueError:
        return False

"""One live plugin process: the handshake, calls with timeouts, notifications, and an honest end when it dies.

A reader thread owns the plugin's stdout: it hands each response to the call waiting for it and
each notification to the subscribers. When the plugin exits, every call still in flight fails at
once with a PluginError that says so; no caller ever waits on a dead plugin.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from animus import procs
from animus.domain.errors import PluginError, PluginTimeout, SpawnError
from animus.plugins import _jsonrpc as rpc
from animus.plugins._discovery import PluginSource, check_protocol

_log = logging.getLogger("animus.plugins")

#: methods every plugin answers, whatever ``capabilities.methods`` lists
LIFECYCLE_METHODS = frozenset({"initialize", "shutdown", "$/ping", "health/check"})
DEFAULT_CALL_TIMEOUT_SECS = 30.0
_INITIALIZE_TIMEOUT_SECS = 10.0
_PING_TIMEOUT_SECS = 2.0
_SHUTDOWN_TIMEOUT_SECS = 2.0

Subscriber = Callable[[str, Any], None]


@dataclass(frozen=True)
class PluginInfo:
    """The plugin's answer to ``initialize``: who it is and which methods it serves."""

    name: str
    version: str
    plugin_kind: str
    protocol_version: str
    methods: tuple[str, ...]
    capabilities: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "plugin_kind": self.plugin_kind,
            "protocol_version": self.protocol_version,
            "capabilities": {**self.capabilities, "methods": list(self.methods)},
        }


class _Pending:
    __slots__ = ("done", "error", "method", "result")

    def __init__(self, method: str) -> None:
        self.method = method
        self.done = threading.Event()
        self.result: Any = None
        self.error: Exception | None = None


class PluginClient:
    """A started plugin, after ``initialize`` → ``initialized``. Use ``call``, ``notify``, ``subscribe``, ``close``.

    Thread-safe: any thread may call; subscribers run on the reader thread and must return quickly.
    """

    def __init__(self, source: PluginSource, process: procs.PipedProcess, log_path: Path) -> None:
        self.source = source
        self.log_path = log_path
        self._proc = process
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._subscribers: list[tuple[str | None, Subscriber]] = []
        self._exit_code: int | None = None
        self._dead_reason: str | None = None
        self._closing = False
        self.info: PluginInfo | None = None
        self.started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read_loop, name=f"plugin-{source.name}", daemon=True)
        self._reader.start()

    # -- starting -------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        source: PluginSource,
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        host_version: str,
        own_group: bool = True,
        timeout: float = _INITIALIZE_TIMEOUT_SECS,
    ) -> PluginClient:
        """Spawn ``source`` and complete the handshake; PluginError (the process killed) when it fails."""
        try:
            process = procs.spawn_piped(source.argv, cwd=cwd, env=env, stderr_path=log_path, own_group=own_group)
        except SpawnError as exc:
            raise PluginError(f"plugin {source.name}: cannot start {source.binary}: {exc.message}") from exc
        client = cls(source, process, log_path)
        try:
            client._handshake(host_version, timeout)
        except BaseException:
            client.kill()
            raise
        _log.info("plugin started name=%s pid=%s version=%s", source.name, process.pid, client.info.version if client.info else "?")
        return client

    def _handshake(self, host_version: str, timeout: float) -> None:
        params = {
            "protocol_version": rpc.PROTOCOL_VERSION,
            "host_info": {"name": "animus", "version": host_version},
            "capabilities": {"streaming": True, "progress": False, "cancellation": True},
        }
        result = self.call("initialize", params, timeout=timeout)
        self.info = _plugin_info(result, self.source.name)
        self.notify("initialized", {})

    # -- talking --------------------------------------------------------------------------------
    def supports(self, method: str) -> bool:
        """True when the plugin serves ``method`` (lifecycle methods always; others when ``initialize`` listed them)."""
        return method in LIFECYCLE_METHODS or (self.info is not None and method in self.info.methods)

    def call(self, method: str, params: Any = None, *, timeout: float | None = DEFAULT_CALL_TIMEOUT_SECS) -> Any:
        """Send a request and wait for its result (``timeout`` None: as long as the plugin lives).

        PluginTimeout when no answer came in time (the plugin is sent ``$/cancelRequest``); PluginError
        when the plugin answered an error (``details.rpc_code``), does not serve ``method``, or died.
        """
        if self.info is not None and not self.supports(method):
            raise PluginError(
                f"plugin {self.source.name} does not serve {method!r}",
                details={"plugin": self.source.name, "method": method, "rpc_code": rpc.CAPABILITY_NOT_SUPPORTED},
            )
        pending = _Pending(method)
        with self._lock:
            if self._dead_reason is not None:
                raise self._dead_error(method)
            call_id = next(self._ids)
            self._pending[call_id] = pending
        try:
            self._write(rpc.request(call_id, method, params))
        except PluginError:
            with self._lock:
                self._pending.pop(call_id, None)
            raise
        if not pending.done.wait(timeout):
            with self._lock:
                self._pending.pop(call_id, None)
            if not pending.done.is_set():
                self._cancel_quietly(call_id)
                raise PluginTimeout(
                    f"plugin {self.source.name}: {method} did not answer within {timeout:g}s",
                    details={"plugin": self.source.name, "method": method, "rpc_code": rpc.TIMEOUT},
                )
        if pending.error is not None:
            raise pending.error
        return pending.result

    def notify(self, method: str, params: Any = None) -> None:
        self._write(rpc.notification(method, params))

    def subscribe(self, method: str | None, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(method, params)`` for each notification named ``method`` (None: all); returns the unsubscribe."""
        entry = (method, callback)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def ping(self) -> bool:
        try:
            self.call("$/ping", {}, timeout=_PING_TIMEOUT_SECS)
        except PluginError:
            return False
        return True

    # -- state ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._dead_reason is None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self._exit_code

    @property
    def dead_reason(self) -> str | None:
        return self._dead_reason

    def uptime_secs(self) -> float:
        return time.monotonic() - self.started_at

    # -- ending ---------------------------------------------------------------------------------
    def close(self, timeout: float = _SHUTDOWN_TIMEOUT_SECS) -> None:
        """The polite end: ``shutdown``, then the ``exit`` notification; killed if it lingers."""
        if self.alive:
            self._closing = True
            try:
                self.call("shutdown", {}, timeout=timeout)
                self.notify("exit", {})
            except PluginError:
                pass
            if self._proc.wait(timeout) is None:
                _log.warning("plugin did not exit after shutdown, killing name=%s pid=%s", self.source.name, self.pid)
        self.kill()

    def kill(self) -> None:
        self._closing = True
        self._proc.kill()
        self._reader.join(timeout=2.0)
        self._mark_dead("it was stopped by animus")

    # -- internals ------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self._proc.stdin.write(data)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as exc:
                raise PluginError(f"plugin {self.source.name}: cannot write to it: {exc}; see {self.log_path}") from exc

    def _cancel_quietly(self, call_id: int) -> None:
        try:
            self.notify("$/cancelRequest", {"id": call_id})
        except PluginError:
            pass

    def _read_loop(self) -> None:
        stdout = self._proc.stdout
        eof = reason = "its stdout closed"
        try:
            while True:
                line = stdout.readline(rpc.MAX_LINE_BYTES + 1)
                if not line:
                    break
                if len(line) > rpc.MAX_LINE_BYTES:
                    reason = f"it sent a line longer than {rpc.MAX_LINE_BYTES} bytes"
                    self._proc.kill()
                    break
                if line.strip():
                    self._dispatch(line)
        except (OSError, ValueError) as exc:
            reason = f"reading it failed: {exc}"
        code = self._proc.wait(5.0)
        if code is None:  # it closed its stdout but lives on: no one can talk to it any more
            reason = "it closed its stdout but kept running"
            self._proc.kill()
            code = self._proc.poll()
        self._exit_code = code
        if not self._closing:
            if reason != eof or code is None:
                what = f"was killed: {reason}"
            elif code >= 0:
                what = f"exited with code {code}"
            else:
                what = f"was killed by signal {-code}"
            _log.warning("plugin died name=%s pid=%s %s", self.source.name, self.pid, what)
            self._mark_dead(what)
        else:
            self._mark_dead("it was shut down")

    def _dispatch(self, line: bytes) -> None:
        try:
            message = rpc.decode(line)
        except rpc.RpcError as exc:
            _log.warning("plugin sent a bad line name=%s error=%s", self.source.name, exc.message)
            return
        if message.is_response:
            with self._lock:
                pending = self._pending.pop(message.id, None) if isinstance(message.id, int) else None
            if pending is None:
                return  # the answer to a call that timed out
            try:
                pending.result = message.result()
            except rpc.RpcError as exc:
                pending.error = PluginError(
                    f"plugin {self.source.name}: {pending.method} failed: {exc.message}",
                    details={"plugin": self.source.name, "method": pending.method, "rpc_code": exc.code, "data": exc.data},
                )
            pending.done.set()
        elif message.is_notification:
            with self._lock:
                subscribers = [cb for m, cb in self._subscribers if m is None or m == message.method]
            for callback in subscribers:
                try:
                    callback(message.method or "", message.params)
                except Exception:  # a subscriber's bug must not kill the reader (and with it every call)
                    _log.exception("plugin notification subscriber failed name=%s", self.source.name)
        elif message.is_request:
            # the host serves nothing to plugins yet except a ping back
            if message.method == "$/ping":
                self._reply(rpc.response(message.id, {}))
            else:
                self._reply(rpc.error_response(message.id, rpc.RpcError(rpc.METHOD_NOT_FOUND, f"the host has no method {message.method!r}")))

    def _reply(self, data: bytes) -> None:
        try:
            self._write(data)
        except PluginError:
            pass

    def _mark_dead(self, reason: str) -> None:
        with self._lock:
            if self._dead_reason is None:
                self._dead_reason = reason
            pending, self._pending = list(self._pending.values()), {}
        for item in pending:
            item.error = self._dead_error(item.method)
            item.done.set()

    def _dead_error(self, method: str) -> PluginError:
        return PluginError(
            f"plugin {self.source.name} {self._dead_reason} while {method} was in flight; see {self.log_path}",
            details={"plugin": self.source.name, "method": method, "exit_code": self._exit_code},
            hint="animus restarts it on the next call; `animus plugin check` tests it",
        )


def _plugin_info(result: Any, name: str) -> PluginInfo:
    where = f"plugin {name}: initialize"
    if not isinstance(result, dict):
        raise PluginError(f"{where} answered {result!r}, not an object")
    check_protocol(str(result.get("protocol_version", "")), where=where)
    info = result.get("plugin_info")
    caps = result.get("capabilities") or {}
    if not isinstance(info, dict) or not isinstance(caps, dict):
        raise PluginError(f"{where}: the result needs `plugin_info` and `capabilities` objects")
    methods = caps.get("methods") or []
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise PluginError(f"{where}: `capabilities.methods` must be a list of method names")
    return PluginInfo(
        name=str(info.get("name") or name),
        version=str(info.get("version") or ""),
        plugin_kind=str(info.get("plugin_kind") or "custom"),
        protocol_version=str(result["protocol_version"]),
        methods=tuple(methods),
        capabilities={k: v for k, v in caps.items() if k != "methods"},
    )

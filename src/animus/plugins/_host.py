"""The plugin host of one process (a daemon, a CLI command): discovery, trust, lazy start, restarts with backoff.

Every plugin kind is a thin client over this: ``host.call(name, method, params, timeout=…)`` and
``host.subscribe(name, method, callback)``. A plugin runs at most once per host; it is started on
its first call, and a plugin that died is started again on the next call after a backoff that
doubles with each crash in a row (0.25 s … 30 s), so a crash-looping plugin cannot spin.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import animus
from animus.config.project import StateLayout
from animus.domain.errors import AnimusError, NotFound, PluginError
from animus.plugins._client import DEFAULT_CALL_TIMEOUT_SECS, PluginClient, PluginInfo, Subscriber
from animus.plugins._discovery import Manifest, PluginSource, discover, plugin_env, probe_manifest
from animus.plugins._health import record_health
from animus.plugins._lock import LockEntry, LockState, entry_for, lock_state, read_lock, verify, write_lock

_log = logging.getLogger("animus.plugins")

_BACKOFF_FIRST_SECS = 0.25
_BACKOFF_MAX_SECS = 30.0
#: a plugin that stayed up this long before it died starts its backoff afresh
_STABLE_SECS = 30.0


@dataclass(frozen=True)
class PluginStatus:
    """One discovered plugin as ``animus plugin list`` shows it: where it is, its lock state, its manifest or why not."""

    source: PluginSource
    lock: LockState
    manifest: Manifest | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.source.to_dict(),
            "lock": self.lock,
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "error": self.error,
        }


@dataclass(frozen=True)
class PluginHealth:
    """A running plugin's ``health/check`` answer (or why there is none), with the host's restart count."""

    name: str
    status: str
    pid: int | None
    uptime_ms: int | None
    restarts: int
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "pid": self.pid,
            "uptime_ms": self.uptime_ms,
            "restarts": self.restarts,
            "last_error": self.last_error,
        }


class _Slot:
    """The host's memory of one plugin: its live client, crashes in a row, and when it may start again."""

    def __init__(self) -> None:
        self.client: PluginClient | None = None
        self.crashes = 0
        self.restarts = 0
        self.not_before = 0.0
        self.last_error: str | None = None
        self.lock = threading.Lock()


class PluginHost:
    """The plugins of one project, for one process. ``close()`` shuts every started plugin down.

    ``extra_env`` is added to every plugin's scrubbed environment; ``own_group`` False keeps the
    plugins in this process's group (the provider bridge: a plugin must die with its agent run).
    """

    def __init__(
        self,
        project_root: Path,
        state_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        own_group: bool = True,
    ) -> None:
        self.project_root = Path(project_root)
        self.layout = StateLayout(Path(state_dir))
        self._environ = dict(os.environ if environ is None else environ)
        self._extra_env = dict(extra_env or {})
        self._own_group = own_group
        self._sources: dict[str, PluginSource] | None = None
        self._slots: dict[str, _Slot] = {}
        self._subscriptions: list[tuple[str, str | None, Subscriber]] = []
        self._lock = threading.Lock()

    # -- what there is ----------------------------------------------------------------------------
    def sources(self, *, refresh: bool = False) -> dict[str, PluginSource]:
        if self._sources is None or refresh:
            self._sources = {s.name: s for s in discover(self.project_root, environ=self._environ)}
        return self._sources

    def source(self, name: str) -> PluginSource:
        found = self.sources().get(name) or self.sources(refresh=True).get(name)
        if found is None:
            known = ", ".join(self.sources()) or "none"
            raise NotFound(
                f"no plugin named {name!r} (found: {known})",
                hint="put it in .animus/plugins/ as animus-plugin-<name>, or name it in .animus/plugins.yaml; `animus plugin list`",
            )
        return found

    def log_path(self, name: str) -> Path:
        return self.layout.plugin_log(name)

    def manifest(self, name: str) -> Manifest:
        """``--manifest`` of plugin ``name``; a changed binary is not run (Conflict) until it is locked again."""
        source = self.source(name)
        if self.lock_state(name) == "changed":
            verify(source, read_lock(self.project_root), project_root=self.project_root)
        return probe_manifest(source, cwd=self.project_root, log_path=self.log_path(name), environ=self._environ)

    def statuses(self) -> list[PluginStatus]:
        """Every plugin found, with its lock state and manifest; changed binaries are not run to get one."""
        lock = read_lock(self.project_root)
        out = []
        for source in self.sources(refresh=True).values():
            state = lock_state(source, lock, project_root=self.project_root)
            manifest, error = None, None
            if state == "changed":
                error = "binary changed since it was locked: run `animus plugin lock` to trust it"
            elif state == "missing":
                error = f"binary {source.binary} does not exist"
            else:
                try:
                    manifest = probe_manifest(source, cwd=self.project_root, log_path=self.log_path(source.name), environ=self._environ)
                except AnimusError as exc:
                    error = exc.message
            out.append(PluginStatus(source, state, manifest, error))
        return out

    def lock_state(self, name: str) -> LockState:
        """Plugin ``name``'s binary against ``.animus/plugins.lock``: locked, changed, unlocked or missing."""
        return lock_state(self.source(name), read_lock(self.project_root), project_root=self.project_root)

    def of_kind(self, kind: str) -> list[str]:
        """The plugins of ``kind`` that may start now: found, and locked as they are on disk (nothing is run)."""
        lock = read_lock(self.project_root)
        return [
            name
            for name, source in self.sources(refresh=True).items()
            if name in lock and lock[name].plugin_kind == kind and lock_state(source, lock, project_root=self.project_root) == "locked"
        ]

    def lock(self) -> dict[str, LockEntry]:
        """Trust every plugin found now: probe each manifest and write its binary's sha256 to ``.animus/plugins.lock``.

        A plugin whose manifest cannot be read is not locked (PluginError names it; the others are kept).
        """
        entries: dict[str, LockEntry] = {}
        problems = []
        for source in self.sources(refresh=True).values():
            try:
                manifest = probe_manifest(source, cwd=self.project_root, log_path=self.log_path(source.name), environ=self._environ)
            except AnimusError as exc:
                problems.append(exc.message)
                continue
            entries[source.name] = entry_for(source, manifest, project_root=self.project_root)
        write_lock(self.project_root, entries)
        if problems:
            raise PluginError("not locked: " + "; ".join(problems), details={"locked": sorted(entries)})
        return entries

    # -- talking to one ---------------------------------------------------------------------------
    def client(self, name: str, *, wait_up_to: float | None = None) -> PluginClient:
        """The running plugin ``name``, started (lock checked, handshake done) if it is not running.

        A plugin in its crash backoff is waited for, unless the wait is longer than ``wait_up_to``
        seconds: then PluginError at once (a call's timeout bounds the whole call, restart included).
        """
        slot = self._slot(name)
        with slot.lock:
            if slot.client is not None and slot.client.alive:
                return slot.client
            if slot.client is not None:
                self._note_crash(name, slot, slot.client)
            wait = slot.not_before - time.monotonic()
            if wait > 0 and wait_up_to is not None and wait > wait_up_to:
                raise PluginError(
                    f"plugin {name} crashed {slot.crashes} time(s) in a row; it is started again in {wait:.1f}s"
                    + (f" (last: {slot.last_error})" if slot.last_error else ""),
                    details={"plugin": name, "restart_in_secs": round(wait, 3)},
                    hint=f"see {self.log_path(name)}; `animus plugin check {name}` tests it",
                )
            if wait > 0:
                time.sleep(wait)
            source = self.source(name)
            verify(source, read_lock(self.project_root), project_root=self.project_root)
            try:
                client = PluginClient.start(
                    source,
                    cwd=self.project_root,
                    env={**plugin_env(source, self._environ), **self._extra_env},
                    log_path=self.log_path(name),
                    host_version=animus.__version__,
                    own_group=self._own_group,
                )
            except PluginError as exc:
                slot.crashes += 1
                slot.not_before = time.monotonic() + _backoff(slot.crashes)
                slot.last_error = exc.message
                record_health(self.layout.state_dir, name, "failed_to_start", restarts=slot.restarts, error=exc.message)
                raise
            client.subscribe(None, lambda method, params: self._fan_out(name, method, params))
            slot.client = client
            record_health(self.layout.state_dir, name, "running", restarts=slot.restarts, error=slot.last_error, pid=client.pid)
            return client

    def info(self, name: str) -> PluginInfo:
        info = self.client(name).info
        assert info is not None
        return info

    def call(self, name: str, method: str, params: Any = None, *, timeout: float | None = DEFAULT_CALL_TIMEOUT_SECS) -> Any:
        """``method(params)`` on plugin ``name``, starting it if needed; see ``PluginClient.call`` for the errors."""
        return self.client(name, wait_up_to=timeout).call(method, params, timeout=timeout)

    def subscribe(self, name: str, method: str | None, callback: Subscriber) -> Callable[[], None]:
        """Notifications of plugin ``name`` (``method`` None: all), kept across its restarts; returns the unsubscribe."""
        entry = (name, method, callback)
        with self._lock:
            self._subscriptions.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscriptions:
                    self._subscriptions.remove(entry)

        return unsubscribe

    def _fan_out(self, name: str, method: str, params: Any) -> None:
        """One client's notifications to the host's subscribers of that plugin (on the client's reader thread)."""
        for _plugin, wanted, callback in self._subscriptions_of(name):
            if wanted is None or wanted == method:
                callback(method, params)

    def health(self) -> list[PluginHealth]:
        """``health/check`` of every plugin this host started (a dead one reports unhealthy, never started again here)."""
        out = []
        with self._lock:
            slots = dict(self._slots)
        for name, slot in sorted(slots.items()):
            client = slot.client
            if client is None or not client.alive:
                reason = client.dead_reason if client is not None else slot.last_error
                out.append(PluginHealth(name, "unhealthy", None, None, slot.restarts, reason))
                continue
            try:
                answer = client.call("health/check", {}, timeout=2.0)
                status = str(answer.get("status", "healthy")) if isinstance(answer, dict) else "healthy"
                last_error = answer.get("last_error") if isinstance(answer, dict) else None
            except PluginError as exc:
                status, last_error = "unhealthy", exc.message
            out.append(PluginHealth(name, status, client.pid, int(client.uptime_secs() * 1000), slot.restarts, last_error))
        return out

    def close(self) -> None:
        with self._lock:
            named = list(self._slots.items())
        for name, slot in named:
            with slot.lock:
                if slot.client is not None:
                    slot.client.close()
                    record_health(self.layout.state_dir, name, "stopped", restarts=slot.restarts, error=slot.last_error)

    def __enter__(self) -> PluginHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------
    def _slot(self, name: str) -> _Slot:
        with self._lock:
            return self._slots.setdefault(name, _Slot())

    def _subscriptions_of(self, name: str) -> list[tuple[str, str | None, Subscriber]]:
        with self._lock:
            return [s for s in self._subscriptions if s[0] == name]

    def _note_crash(self, name: str, slot: _Slot, dead: PluginClient) -> None:
        slot.crashes = 1 if dead.uptime_secs() >= _STABLE_SECS else slot.crashes + 1
        slot.restarts += 1
        slot.not_before = max(slot.not_before, time.monotonic() + _backoff(slot.crashes))
        slot.last_error = dead.dead_reason
        record_health(self.layout.state_dir, name, "crashed", restarts=slot.restarts, error=dead.dead_reason)
        dead.kill()
        slot.client = None
        _log.warning("restarting plugin name=%s crashes_in_a_row=%s", name, slot.crashes)


def _backoff(crashes: int) -> float:
    return float(min(_BACKOFF_FIRST_SECS * 2 ** max(crashes - 1, 0), _BACKOFF_MAX_SECS))

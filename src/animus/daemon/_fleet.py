"""Membership: this daemon's member row, its heartbeat, and what it does for dead peers.

A thread of its own, on a connection of its own, so a busy dispatcher never delays a heartbeat.
Every ``beat`` seconds it renews the lease; on a fleet (PostgreSQL) it also declares members whose
lease ran out dead (one conditional UPDATE: exactly one peer wins), asks the engine to take over
the pending workflows of dead and handed-off members, and kills agents on this host that work for
runs another daemon owns now. A heartbeat that finds this daemon's own row no longer ``alive``
means it was paused past its lease and its runs were taken over: it logs that it is fenced, kills
those runs' agents (their transactions are refused anyway) and registers again as a new member.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from animus.daemon._dispatch import _kv
from animus.domain.errors import AnimusError

if TYPE_CHECKING:
    from animus.engine import EngineContext
    from animus.store import Member, Store

_log = logging.getLogger("animus.daemon")
_SWEEP_EVERY_BEATS = 3


def beat_secs(lease_secs: float) -> float:
    """How often a member heartbeats: five beats per lease, never slower than every 3 s."""
    return max(0.2, min(3.0, lease_secs / 5.0))


class Membership:
    """This daemon in the member table; ``fleet`` (PostgreSQL) turns on failure detection and takeover."""

    def __init__(
        self, db_url: str, ctx: EngineContext, *, executor_id: str, project_id: str, pool_size: int,
        lease_secs: float, fleet: bool,
    ) -> None:
        from animus import __version__
        from animus.engine import ENGINE_VERSION

        self.db_url = db_url
        self.ctx = ctx
        self.executor_id = executor_id
        self.lease_secs = lease_secs
        self.fleet = fleet
        self.row: dict[str, Any] = {
            "executor_id": executor_id, "project_id": project_id, "host": socket.gethostname(), "pid": os.getpid(),
            "clone_path": str(ctx.project_root), "animus_version": __version__, "engine_version": ENGINE_VERSION,
            "pool_size": pool_size,
        }
        self.capacity = pool_size  # runs the fleet may run at once (the dispatcher reads it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self, store: Store) -> None:
        """Register (alive, heartbeat now) on the daemon's store, then beat on a thread of its own."""
        store.register_member(**self.row)
        _log.info(_kv(event="member_registered", executor=self.executor_id, fleet=self.fleet, lease_secs=self.lease_secs))
        self._thread = threading.Thread(target=self._loop, name="animus-membership", daemon=True)
        self._thread.start()

    def stop(self, store: Store, *, handed_off: bool) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            store.mark_member_stopped(self.executor_id, handed_off=handed_off)
        except AnimusError as err:
            _log.warning(_kv(event="member_stop_failed", error=err.message))

    def _alive(self, store: Store) -> list[Member]:
        """Members alive by their row and their lease (this daemon included)."""
        now = store.db_now()
        return [m for m in store.members() if m.state == "alive" and now - m.heartbeat <= self.lease_secs]

    def live_peers(self, store: Store) -> list[Member]:
        return [m for m in self._alive(store) if m.executor_id != self.executor_id]

    # -- the beat -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        from animus.store import open_store

        store = open_store(self.db_url)
        beats = 0
        try:
            while not self._stop.wait(beat_secs(self.lease_secs)):
                beats += 1
                try:
                    self.beat(store, sweep=beats % _SWEEP_EVERY_BEATS == 0)
                except AnimusError as err:  # a database hiccup: the next beat tries again
                    _log.error(_kv(event="heartbeat_failed", error=err.message))
                except Exception as exc:  # never let the membership thread die
                    _log.exception(_kv(event="heartbeat_crashed", error=f"{type(exc).__name__}: {exc}"))
        finally:
            store.close()

    def beat(self, store: Store, *, sweep: bool = False) -> None:
        if not store.heartbeat(self.executor_id):
            self._fenced(store)
        if not self.fleet:
            return
        for executor in store.declare_expired(self.executor_id, self.lease_secs):
            _log.warning(_kv(event="member_declared_dead", executor=executor, by=self.executor_id, lease_secs=self.lease_secs))
        for member in store.members_to_take_over(self.lease_secs):
            self._take_over(store, member)
        self._update_capacity(store)
        if sweep:
            self._stop_foreign_agents(store)

    def _take_over(self, store: Store, member: Member) -> None:
        from animus.engine import take_over

        count = take_over([member.executor_id])
        if store.mark_taken_over(member.executor_id, self.executor_id):
            _log.warning(_kv(event="takeover", executor=member.executor_id, state=member.state, workflows=count,
                             by=self.executor_id))

    def _update_capacity(self, store: Store) -> None:
        alive = self._alive(store)
        self.capacity = sum(m.pool_size for m in alive) if alive else int(self.row["pool_size"])

    def _fenced(self, store: Store) -> None:
        """This daemon's row is not alive: a peer declared it dead and took its runs. Stop their agents, rejoin."""
        killed = self._stop_agents(self._foreign(store.runs_by_owner()))
        _log.error(_kv(event="fenced", executor=self.executor_id, reason="declared dead by a peer after missing the lease "
                       "(paused or cut off); its runs were taken over, their transactions are refused here",
                       agents_killed=len(killed)))
        store.register_member(**self.row)
        _log.info(_kv(event="member_rejoined", executor=self.executor_id))

    def _stop_foreign_agents(self, store: Store) -> None:
        """Agents on this host whose run another daemon owns now, or whose run ended (cancelled on another host): stopped."""
        from animus import procs

        owned = store.runs_by_owner()
        active = {run for runs in owned.values() for run in runs}
        running_here = {s.labels.get("workflow_run") for s in procs.list_runs(self.ctx.runs_dir) if s.status == "running"}
        ended = {run for run in running_here if run and run not in active}
        killed = self._stop_agents(self._foreign(owned) | ended)
        if killed:
            _log.warning(_kv(event="foreign_agents_stopped", pids=",".join(map(str, killed))))

    def _foreign(self, owned: dict[str, list[str]]) -> set[str]:
        """Active runs another daemon owns now."""
        return {run for owner, runs in owned.items() if owner and owner != self.executor_id for run in runs}

    def _stop_agents(self, run_ids: set[str]) -> list[int]:
        from animus.engine import stop_agents_of_runs

        return stop_agents_of_runs(self.ctx, run_ids)

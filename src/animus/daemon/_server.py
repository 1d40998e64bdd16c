"""The daemon process: capture signals → startup → main loop → shutdown (uvicorn's shape).

Signal handlers only set flags. SIGTERM/SIGINT: stop taking work and exit (agents keep running
detached; the next start re-attaches them). SIGUSR1: drain — take no new work, exit once the
in-flight runs have ended (``animus daemon stop --drain`` bounds the wait and then sends SIGTERM).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from animus import procs
from animus.config import DaemonInfo
from animus.config.project import StateLayout
from animus.daemon._dispatch import Dispatcher, _kv
from animus.daemon._fleet import Membership
from animus.daemon._info import _remove_info, _write_info, log_path
from animus.daemon._reconcile import reconcile_before_launch
from animus.domain.errors import AnimusError, ConfigError, Conflict

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.config.project import Project
    from animus.engine import ExecutorLock
    from animus.store import Store

_FAST_POLL_SECS = 0.02
_DBOS_QUEUE_POLL_SECS = 0.02
_DRAIN_SIGNAL = signal.SIGUSR1
_log = logging.getLogger("animus.daemon")


def _setup_logging(state_dir: Path) -> None:
    """``key=value`` lines to ``<state>/logs/daemon.log``, and to stderr unless stderr already is that file."""
    path = log_path(state_dir)
    procs.private_dir(path.parent, top=StateLayout(state_dir).private_top)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handlers: list[logging.Handler] = [logging.FileHandler(procs.private_file(path))]
    try:
        same = os.path.samestat(os.fstat(2), os.stat(path))
    except OSError:
        same = False
    if not same:
        handlers.append(logging.StreamHandler(sys.stderr))
    for name in ("animus.daemon", "animus.procs"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        for handler in handlers:
            handler.setFormatter(formatter)
            logger.addHandler(handler)


class Daemon:
    """One project's executor that drains the queue, fires schedules and reconciles at start."""

    def __init__(self, project: Project, *, pool_size: int | None = None, http_port: int | None = None) -> None:
        self.project = project
        self.pool_override = pool_size
        self.http_port_flag = http_port
        self.http: Any = None
        self.watchers: list[Any] = []
        self.notifier: threading.Thread | None = None
        self.source_thread: threading.Thread | None = None
        self.trigger_thread: threading.Thread | None = None
        self._stop_notifier = threading.Event()
        self._wake = threading.Event()  # set by the API after a queue or run change: dispatch now
        self.should_exit = False
        self.draining = False
        self.store: Store | None = None
        self.lock: ExecutorLock | None = None
        self.dispatcher: Dispatcher | None = None
        self._config: WorkflowConfig | None = None
        self._config_stamp: tuple[Any, ...] = ()
        self._config_lock = threading.Lock()  # the notifier thread reads the config too
        #: the first problem of the configuration on disk while it is invalid: dispatch pauses until it is fixed
        self.config_error: str | None = None
        self._info: DaemonInfo | None = None
        self._engine_started = False
        self.membership: Membership | None = None
        self.ctx: Any = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def run(self) -> int:
        self.capture_signals()
        try:
            self.startup()
            self.main_loop()
        finally:
            self.shutdown()
        return 0

    def capture_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_exit_signal)
        signal.signal(signal.SIGINT, self._on_exit_signal)
        signal.signal(_DRAIN_SIGNAL, self._on_drain_signal)

    def _on_exit_signal(self, signum: int, frame: FrameType | None) -> None:
        self.should_exit = True

    def _on_drain_signal(self, signum: int, frame: FrameType | None) -> None:
        self.draining = True

    def startup(self) -> None:
        from animus import services
        from animus.engine import EngineContext, ExecutorLock, RunQueue, executor_id, start_engine
        from animus.store import open_store

        state_dir = self.project.state_dir
        self.lock = ExecutorLock(state_dir, "animus daemon")
        self.lock.acquire()
        self.store = open_store(db_path=self.project.db_path)
        config = self.config()
        pool_size = self.pool_override or config.daemon.pool_size
        fleet = self.store.dialect == "postgresql"
        identity = services.project_identity(self.project.root, config)
        if fleet:
            bound = self.store.bind_project(identity.id)
            if bound != identity.id:
                raise Conflict(
                    f"this database serves project {bound!r}, and this clone is project {identity.id!r} ({identity.source})",
                    details={"database_project": bound, "project": identity.id},
                    hint="give every clone the same `project.id` in .animus/workflows.yaml, or point this one at its own database",
                )
        # a fleet lands through the remote and pushes task branches there; without one it stays on one host
        remote = config.landing.remote if fleet and identity.remote_url is not None else None
        ctx = self.ctx = EngineContext(self.project.root, state_dir, self.store.url, remote=remote)
        me = executor_id(state_dir)
        _log.info(_kv(event="starting", pid=os.getpid(), root=self.project.root, pool_size=pool_size, project=identity.id,
                      fleet=fleet, remote=remote or "-"))
        reconcile_before_launch(self.store, ctx, prune_worktrees=config.daemon.prune_worktrees, executor_id=me)
        workflow = start_engine(ctx, log_file=self.project.layout.engine_log if _mkdir(self.project.logs_dir) else None)
        self._engine_started = True
        global_limit = config.daemon.global_concurrency if fleet else None
        runs = RunQueue(workflow, pool_size=pool_size, poll_secs=_DBOS_QUEUE_POLL_SECS, global_concurrency=global_limit)
        self.membership = Membership(self.store.url, ctx, executor_id=me, project_id=identity.id, pool_size=pool_size,
                                     lease_secs=config.daemon.lease_secs, fleet=fleet)
        self.membership.start(self.store)
        membership = self.membership

        def capacity() -> int:
            limit = membership.capacity if fleet else pool_size
            return min(limit, global_limit) if global_limit else limit

        self.dispatcher = Dispatcher(self.store, ctx, self.config, runs, pool_size, capacity=capacity)
        self.dispatcher.check_workflows()
        self.http = self._start_http(config)
        self._start_notifier()
        self._start_sources()
        self._start_plugin_triggers()
        self.watchers = self._file_watchers(config)
        info = DaemonInfo(
            pid=os.getpid(), proc_start=procs.start_time(os.getpid()) or 0, started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            started_epoch=time.time(), executor_id=executor_id(state_dir), pool_size=pool_size, project_root=str(self.project.root),
            http_port=self.http.port if self.http is not None else None,
        )
        self._info = info
        _write_info(state_dir, info)
        _log.info(_kv(event="ready", pid=info.pid, executor=info.executor_id, pool_size=pool_size))

    def main_loop(self) -> None:
        assert self.dispatcher is not None and self.store is not None
        dispatcher, store = self.dispatcher, self.store
        interval = self.config().daemon.interval_secs
        next_slow = 0.0
        marker: tuple[Any, ...] = ()
        announced_drain = False
        while not self.should_exit:
            if self.draining and not announced_drain:
                announced_drain = True
                _log.info(_kv(event="draining", in_flight=dispatcher.active_count()))
            try:
                now = time.monotonic()
                if now >= next_slow:
                    next_slow = now + interval
                    self.tick()
                    marker = store.change_marker()
                else:
                    woken = self._wake.is_set()
                    self._wake.clear()
                    current = store.change_marker()
                    if woken or current != marker:
                        marker = current
                        dispatcher.dispatch(take_work=self._takes_work())
            except AnimusError as err:  # a locked database or a bad config must not kill the daemon
                _log.error(_kv(event="tick_failed", error=err.message))
            if self.draining and dispatcher.active_count() == 0:
                _log.info(_kv(event="drained"))
                break
            self._wake.wait(_FAST_POLL_SECS)

    def tick(self) -> None:
        """The periodic pass: config reload, schedules, auto-ready, workflow health, dispatch."""
        assert self.dispatcher is not None and self.store is not None
        from animus.daemon._scheduler import fire_due

        config = self.config()
        if not self.draining:
            fire_due(self.store, config)
            self._poll_watchers()
            if config.daemon.auto_run_ready:
                self.dispatcher.enqueue_ready()
        self.dispatcher.check_workflows()
        self.dispatcher.dispatch(take_work=self._takes_work())

    def _takes_work(self) -> bool:
        """New runs start unless draining, or the configuration on disk is invalid (in-flight runs go on)."""
        return not self.draining and self.config_error is None

    def shutdown(self) -> None:
        from animus.engine import stop_engine

        self._stop_notifier.set()
        if self.http is not None:
            try:
                self.http.stop()
            except Exception as exc:  # shutting down anyway
                _log.warning(_kv(event="http_stop_failed", error=f"{type(exc).__name__}: {exc}"))
        for thread in (self.notifier, self.source_thread, self.trigger_thread):
            if thread is not None:
                thread.join(timeout=5)

        handing_off = self._hands_off()
        if self._engine_started:
            try:
                stop_engine()
            except Exception as exc:  # shutting down anyway; the next start recovers
                _log.warning(_kv(event="engine_stop_failed", error=f"{type(exc).__name__}: {exc}"))
        if self.membership is not None and self.store is not None:
            if handing_off:
                self._hand_off()
            self.membership.stop(self.store, handed_off=handing_off)
        _remove_info(self.project.state_dir, os.getpid())
        if self.store is not None:
            self.store.close()
        if self.lock is not None:
            self.lock.release()
        _log.info(_kv(event="stopped", pid=os.getpid(), drained=self.draining))

    def _hands_off(self) -> bool:
        """On a clean stop with a live peer, this daemon's runs go to the peers at once (no lease to wait for)."""
        if self.membership is None or self.store is None or not self.membership.fleet:
            return False
        try:
            return bool(self.membership.live_peers(self.store))
        except AnimusError:
            return False

    def _hand_off(self) -> None:
        """Stop the agents of this daemon's runs (a peer retries them as counted attempts) once DBOS stopped here."""
        from animus.engine import stop_agents_of_runs

        assert self.membership is not None and self.store is not None
        try:
            mine = set(self.store.runs_by_owner().get(self.membership.executor_id, []))
            killed = stop_agents_of_runs(self.ctx, mine)
            _log.info(_kv(event="handed_off", runs=len(mine), agents_killed=len(killed)))
        except AnimusError as err:
            _log.warning(_kv(event="hand_off_failed", error=err.message))

    # -- the faces: HTTP API + dashboard, notifications, file watchers ----------------------------------
    def _start_http(self, config: WorkflowConfig) -> Any:
        """Serve the API and dashboard; a busy default port falls back to a free one (an explicit one fails)."""
        from animus.api import ENV_HTTP_PORT, ensure_token, http_port, serve_in_thread
        from animus.web import create_app

        explicit = self.http_port_flag is not None or bool(os.environ.get(ENV_HTTP_PORT, "").strip())
        port = http_port(config.daemon.http.port, self.http_port_flag)
        app = create_app(self.project, config=config, token=ensure_token(self.project.state_dir), on_change=self._wake.set)
        try:
            handle = serve_in_thread(app, config.daemon.http.host, port)
        except (OSError, AnimusError) as err:
            if explicit:
                raise
            _log.warning(_kv(event="http_port_busy", port=port, error=str(err), fallback="any free port"))
            handle = serve_in_thread(app, config.daemon.http.host, 0)
        _log.info(_kv(event="http_listening", host=config.daemon.http.host, port=handle.port))
        return handle

    def _start_notifier(self) -> None:
        """Deliver the outbox on its own thread and connection: a slow webhook never delays dispatch."""
        from animus.store import open_store

        def loop() -> None:
            from animus.notify import deliver_due

            store = open_store(db_path=self.project.db_path)
            try:
                while not self._stop_notifier.wait(self.config().daemon.interval_secs):
                    try:
                        report = deliver_due(store, self.config(), datetime.now(UTC))
                        if report.delivered or report.dead or report.failed:
                            _log.info(_kv(event="notifications", delivered=report.delivered, failed=report.failed, dead=report.dead))
                    except AnimusError as err:
                        _log.error(_kv(event="notify_failed", error=err.message))
            finally:
                store.close()

        if self.config().notifications:
            self.notifier = threading.Thread(target=loop, name="animus-notify", daemon=True)
            self.notifier.start()

    def _start_sources(self) -> None:
        """Sync task sources and tell them how runs stand, on their own thread and connection (a slow tracker
        never delays dispatch). In a fleet one daemon does it: the holder of the sources lock."""
        from animus.sources import SourceContext, SourcePoller
        from animus.store import open_store

        project = self.project
        poller = SourcePoller(SourceContext(project.root, project.state_dir, project.worktrees_dir))

        def loop() -> None:
            store = None  # opened once a source is configured: most daemons never need this connection
            holder = False
            try:
                while not self._stop_notifier.wait(min(1.0, self.config().daemon.interval_secs)):
                    config = self.config()
                    if not config.sources or self.draining:
                        continue
                    try:
                        store = store or open_store(db_path=project.db_path)
                        holder = holder or store.try_sources_lock()
                        if holder:
                            self._source_pass(poller, store, config)
                    except AnimusError as err:
                        _log.error(_kv(event="sources_failed", error=err.message))
            finally:
                poller.close()  # shuts the plugin sources' plugins down
                if store is not None:
                    store.close()

        self.source_thread = threading.Thread(target=loop, name="animus-sources", daemon=True)
        self.source_thread.start()

    def _source_pass(self, poller: Any, store: Any, config: WorkflowConfig) -> None:
        for report in poller.poll_due(store, config):
            if report.imported or report.updated or report.cancelled or not report.ok:
                _log.info(_kv(event="source_sync", source=report.source, ok=report.ok, imported=len(report.imported),
                              updated=len(report.updated), cancelled=len(report.cancelled), error=report.error))
            if report.imported:
                self._wake.set()
        delivered = poller.deliver(store, config)
        if delivered.delivered or delivered.failed or delivered.dead:
            _log.info(_kv(event="source_status", delivered=delivered.delivered, failed=delivered.failed, dead=delivered.dead))

    def _start_plugin_triggers(self) -> None:
        """Plugin triggers on their own thread and connection: a plugin's events become tasks, each acked after
        its commit (notify/_plugin_triggers.py). Started with the first plugin trigger in the configuration."""
        from animus.notify import PluginTriggers
        from animus.plugins import PluginHost
        from animus.store import open_store

        project = self.project

        def loop() -> None:
            store = None
            triggers = None
            try:
                while not self._stop_notifier.wait(min(0.2, self.config().daemon.interval_secs)):
                    config = self.config()
                    if self.draining or not any(t.type == "plugin" and t.enabled for t in config.triggers):
                        continue
                    try:
                        store = store or open_store(db_path=project.db_path)
                        triggers = triggers or PluginTriggers(PluginHost(project.root, project.state_dir))
                        if any(fired.queued for fired in triggers.poll(store, config)):
                            self._wake.set()
                    except AnimusError as err:
                        _log.error(_kv(event="plugin_triggers_failed", error=err.message))
            finally:
                if triggers is not None:
                    triggers.close()
                if store is not None:
                    store.close()

        self.trigger_thread = threading.Thread(target=loop, name="animus-triggers", daemon=True)
        self.trigger_thread.start()

    def _file_watchers(self, config: WorkflowConfig) -> list[Any]:
        from animus.notify import FileWatcher

        return [FileWatcher(t, self.project.root) for t in config.triggers if t.type == "file_watcher" and t.enabled]

    def _poll_watchers(self) -> None:
        assert self.store is not None
        for watcher in self.watchers:
            for change in watcher.poll(time.monotonic()):
                task = self.store.create_task(watcher.task_for(change))
                self.store.enqueue(task.id, workflow=watcher.trigger.workflow_ref, variables={}, source="file_watcher")
                _log.info(_kv(event="file_watcher_fired", trigger=watcher.trigger.id, task=task.id, files=len(change.paths)))

    # -- configuration ------------------------------------------------------------------------------
    def config(self) -> WorkflowConfig:
        """The project's configuration, re-read when a config file changed.

        A broken edit keeps the last good configuration for what is in flight, and pauses dispatch
        (``config_error``, published in ``daemon.json`` for `animus status`, the API and `queue
        enqueue`) until the file is valid again.
        """
        from animus.config import discover_config_files, load_config

        with self._config_lock:
            paths = discover_config_files(self.project.root)
            stamp = tuple((str(p), _mtime(p)) for p in paths)
            if self._config is None or stamp != self._config_stamp:
                try:
                    self._config = load_config(self.project)
                    if self._config_stamp:
                        _log.info(_kv(event="config_reloaded", resumed=self.config_error is not None))
                    self._set_config_error(None)
                except AnimusError as err:
                    if self._config is None:
                        raise
                    first = err.problems[0] if isinstance(err, ConfigError) and err.problems else err.message
                    _log.error(_kv(event="config_invalid", error=err.message, dispatch="paused"))
                    self._set_config_error(first)
                self._config_stamp = stamp
            return self._config

    def _set_config_error(self, error: str | None) -> None:
        if error == self.config_error:
            return
        self.config_error = error
        if self._info is not None:
            self._info = replace(self._info, config_error=error)
            _write_info(self.project.state_dir, self._info)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _mkdir(path: Path) -> bool:
    procs.private_dir(path)
    return True


def serve(project: Project, *, pool_size: int | None = None, http_port: int | None = None) -> NoReturn:
    """Run the daemon in this process until it is told to stop, then exit the process.

    Exits with ``os._exit``: DBOS worker threads may still be waiting on detached agents, and a
    normal interpreter exit would join them (the agents keep running; the next start re-attaches).
    An ``AnimusError`` at start-up (say, another executor holds the lock) is raised for the CLI to render.
    """
    _setup_logging(project.state_dir)
    try:
        code = Daemon(project, pool_size=pool_size, http_port=http_port).run()
    except AnimusError as err:
        _log.error(_kv(event="failed", error=err.message))
        _flush()
        raise
    except Exception:
        _log.exception(_kv(event="crashed"))
        _flush()
        os._exit(1)
    _flush()
    os._exit(code)


def _flush() -> None:
    for handler in logging.getLogger("animus.daemon").handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()

"""`animus daemon …`: start (detached or in the foreground), stop (or drain), status, logs."""

from __future__ import annotations

import time
from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example


@click.group("daemon", epilog=example("animus daemon start", "animus daemon status", "animus daemon stop --drain --timeout 600"))
def daemon() -> None:
    """Start, stop and inspect the daemon that drains the queue."""


@daemon.command("start", epilog=example(
    "animus daemon start                 # detached; log in <state>/logs/daemon.log",
    "animus daemon start --foreground    # for systemd or a container",
    "animus daemon start --pool-size 4",
))
@click.option("--foreground", is_flag=True, help="Run in this process (logs to stderr and daemon.log) until SIGTERM.")
@click.option("--pool-size", type=click.IntRange(min=1), default=None, help="Runs at once (default: daemon.pool_size).")
@click.option(
    "--http-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="API/dashboard port (default: $ANIMUS_HTTP_PORT, else daemon.http.port, else 4177; 0 = any free port).",
)
@common_options
def start(app: AppContext, foreground: bool, pool_size: int | None, http_port: int | None) -> None:
    """Start the project's daemon (one per project; a second start exits 4 naming the running pid)."""
    from animus.daemon import read_info, running_conflict, serve, start_detached

    project = app.project()
    existing = read_info(project.state_dir)
    if existing is not None:
        raise running_conflict(existing)
    if foreground:
        app.close()
        serve(project, pool_size=pool_size, http_port=http_port)
    info = start_detached(project.root, project.state_dir, pool_size=pool_size, http_port=http_port)
    app.emit(info.to_dict(), lambda d: console().print(
        f"daemon started: pid {d['pid']}, executor {d['executor_id']}, pool {d['pool_size']}"
        + (f", dashboard http://127.0.0.1:{d['http_port']}/ (`animus web --open`)" if d.get("http_port") else "")))


@daemon.command("stop", epilog=example("animus daemon stop", "animus daemon stop --drain --timeout 600"))
@click.option("--drain", is_flag=True, help="Take no new work; exit once in-flight runs have ended (bounded by --timeout).")
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True, help="Seconds to wait before escalating.")
@common_options
def stop(app: AppContext, drain: bool, timeout: float) -> None:
    """Stop the daemon; running agents keep running detached and are re-attached at the next start."""
    from animus.daemon import stop_daemon

    result = stop_daemon(app.project().state_dir, drain=drain, timeout=timeout)

    def human(d: dict[str, Any]) -> None:
        if not d["running"]:
            console().print("the daemon is not running")
            return
        how = "drained and stopped" if d.get("drained") else ("killed" if d.get("forced") else "stopped")
        console().print(f"daemon (pid {d['pid']}) {how} after {d['waited_secs']}s")
        for note in d.get("notes", []):
            console().print(f"  {note}")

    app.emit(result, human)


@daemon.command("status", epilog=example("animus daemon status", "animus daemon status --json"))
@common_options
def status(app: AppContext) -> None:
    """Whether the daemon runs: pid, uptime, executor id, pool size."""
    from animus.daemon import daemon_section

    data = daemon_section(app.project().state_dir)
    app.emit(data, render_daemon)


@daemon.command("list", epilog=example("animus daemon list", "animus --json daemon list"))
@common_options
def list_members(app: AppContext) -> None:
    """Every daemon of the project's fleet (one database): alive, dead or stopped, its heartbeat and runs.

    On SQLite the fleet is this clone's daemon; on PostgreSQL it is every clone's (docs/scaling.md).
    """
    from animus.services import fleet_members

    lease = lease_secs(app)
    members = fleet_members(app.store(), lease)
    app.emit({"lease_secs": lease, "members": members}, render_members)


def config_if_valid(app: AppContext) -> Any:
    """The configuration on disk, or None while it is missing or invalid (status commands still work)."""
    from animus.config import load_config_if_present
    from animus.domain.errors import AnimusError

    try:
        return load_config_if_present(app.project())
    except AnimusError:
        return None


def lease_secs(app: AppContext, config: Any = None) -> float:
    """``daemon.lease_secs`` of ``config`` (default: the configuration on disk), else the default."""
    from animus.config import DaemonConfig

    config = config if config is not None else config_if_valid(app)
    return config.daemon.lease_secs if config is not None else DaemonConfig().lease_secs


def render_members(data: dict[str, Any]) -> None:
    members = data["members"]
    if not members:
        console().print("no daemon has run against this database yet  (start one with `animus daemon start`)")
        return
    for m in members:
        runs = f"{len(m['runs'])} run(s)" + (f": {', '.join(m['runs'][:5])}" if m["runs"] else "")
        declared = "" if m["declared"] or m["state"] != "dead" else " (lease ran out; no peer declared it yet)"
        console().print(
            f"{m['executor_id']}  {m['state']}{declared}  host {m['host']}  pid {m['pid']}  pool {m['pool_size']}  "
            f"heartbeat {m['heartbeat_age_secs']}s ago  {runs}", markup=False,
        )
        console().print(f"  clone {m['clone_path']}  animus {m['animus_version']}  engine {m['engine_version']}", markup=False)


def render_daemon(d: dict[str, Any]) -> None:
    if not d["running"]:
        console().print("daemon: not running  (start it with `animus daemon start`)")
        return
    console().print(
        f"daemon: running  pid {d['pid']}  up {_duration(d['uptime_secs'])}  executor {d['executor_id']}  pool {d['pool_size']}"
    )
    if d.get("config_error"):
        console().print(dispatch_paused(d["config_error"]), style="red", markup=False)


def dispatch_paused(config_error: str) -> str:
    """Why the daemon starts nothing new, and how it resumes."""
    return (f"dispatch paused: the configuration is invalid: {config_error}\n"
            "  (runs in flight go on; fix the file, see `animus config validate`, and the daemon resumes by itself)")


def _duration(secs: float) -> str:
    secs = int(secs)
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")


@daemon.command("logs", epilog=example("animus daemon logs", "animus daemon logs --follow", "animus daemon logs -n 200"))
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--lines", "-n", type=click.IntRange(min=0), default=50, show_default=True, help="Lines of history to print first.")
@common_options
def logs(app: AppContext, follow: bool, lines: int) -> None:
    """Print the daemon's log (<state>/logs/daemon.log)."""
    from animus.daemon import log_path
    from animus.domain.errors import NotFound

    path = log_path(app.project().state_dir)
    if not path.exists():
        raise NotFound(f"no daemon log yet at {path}", hint="start the daemon: `animus daemon start`")
    with path.open("rb") as handle:
        text = handle.read().decode("utf-8", "replace")
        tail = text.splitlines()[-lines:] if lines else []
        if app.json_output and not follow:
            app.emit({"path": str(path), "lines": tail})
            return
        for line in tail:
            click.echo(line)
        if not follow:
            return
        try:
            while True:
                chunk = handle.read()
                if chunk:
                    click.echo(chunk.decode("utf-8", "replace"), nl=False)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return

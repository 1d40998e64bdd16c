"""`animus web`: print (or open) the dashboard URL, show the API token, serve the API and dashboard in the foreground."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, example


def _listen_address(app: AppContext, host: str | None, port: int | None, *, running: bool = False) -> tuple[str, int]:
    """Where to listen (``running=False``) or where the dashboard is (``running=True``).

    Listening: flag > ANIMUS_HTTP_PORT > daemon.http in the config > 127.0.0.1:4177. Finding it: the
    port a running daemon actually bound (daemon.json) comes first, since it may differ from both.
    """
    from animus.api import DEFAULT_HOST, http_port

    configured_host, configured_port = DEFAULT_HOST, None
    try:
        from animus.config import load_config

        http = load_config(app.project()).daemon.http
        configured_host, configured_port = http.host, http.port
    except Exception:  # no or broken config: the defaults still give a usable URL
        pass
    from animus.config import read_daemon_info

    info = read_daemon_info(app.project().state_dir)
    if info is not None and isinstance(info.http_port, int):
        if running and port is None:
            return host or configured_host, info.http_port
        configured_port = info.http_port
    return host or configured_host, http_port(configured_port, port)


@click.group(
    "web",
    invoke_without_command=True,
    epilog=example("animus web", "animus web --open", "animus web token", "animus web serve --port 8080"),
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser (the token rides in the #fragment).")
@common_options
def web(app: AppContext, open_browser: bool) -> None:
    """Print (or open) the dashboard URL; `token` shows the API token; `serve` runs it in the foreground."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    from animus.api import ensure_token
    from animus.web import dashboard_url

    host, port = _listen_address(app, None, None, running=True)
    token = ensure_token(app.project().state_dir)
    url = dashboard_url(host, port, token)
    from animus.daemon import read_info

    serving = read_info(app.project().state_dir) is not None
    if not serving:
        click.echo("note: no daemon is serving this project yet: `animus daemon start` (or `animus web serve`)", err=True)
    if open_browser:
        import webbrowser

        if not webbrowser.open(url):
            click.echo("note: no browser found on this machine (set BROWSER, or open the URL below yourself)", err=True)
    app.emit({"url": url, "host": host, "port": port, "serving": serving}, lambda d: click.echo(d["url"]))


@web.command("token", epilog=example("animus web token", "curl -H \"Authorization: Bearer $(animus web token)\" http://127.0.0.1:4177/api/v1/tasks"))
@common_options
def token(app: AppContext) -> None:
    """Print the API bearer token (created on first use in the state dir, mode 0600)."""
    from animus.api import ensure_token, token_path

    state_dir = app.project().state_dir
    value = ensure_token(state_dir)
    app.emit({"token": value, "path": str(token_path(state_dir))}, lambda d: click.echo(d["token"]))


@web.command("serve", epilog=example("animus web serve", "animus web serve --host 0.0.0.0 --port 8080   # token needed for reads too"))
@click.option("--host", default=None, help="Address to bind (default: daemon.http.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: $ANIMUS_HTTP_PORT, daemon.http.port, 4177; 0: any free port).")
@common_options
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the HTTP API and the dashboard in the foreground (without a daemon; Ctrl-C stops)."""
    import signal
    import threading

    from animus.api import ensure_token, serve_in_thread
    from animus.web import create_app, dashboard_url

    project = app.project()
    bind_host, bind_port = _listen_address(app, host, port)
    server_app = create_app(project, config=None, token=ensure_token(project.state_dir), bind_host=bind_host)
    stop = threading.Event()
    previous: dict[int, Any] = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    handle = serve_in_thread(server_app, bind_host, bind_port)
    try:
        url = dashboard_url(handle.host, handle.port)
        app.emit({"url": url, "host": handle.host, "port": handle.port},
                 lambda d: click.echo(f"serving {d['url']}  (API: {d['url']}api/v1, token: `animus web token`)"))
        while not stop.wait(0.5):
            if not handle.thread.is_alive():
                break
    finally:
        handle.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

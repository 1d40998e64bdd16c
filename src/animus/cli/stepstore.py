"""`animus step-store serve`: exactly-once steps for runners in any language (docs/step-store.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from animus.cli.app import AppContext, common_options, example
from animus.domain.errors import InvalidInput

TOKEN_ENV = "ANIMUS_STEPSTORE_TOKEN"


@click.group("step-store", epilog=example("animus step-store serve", "animus step-store serve --socket /tmp/steps.sock"))
def step_store() -> None:
    """Serve the durable step-store (JSON-RPC 2.0: begin_workflow_run, begin_step, commit_step, …)."""


@step_store.command("serve", epilog=example(
    "animus step-store serve                                # stdio: the client spawns the server",
    "animus step-store serve --socket ~/.animus/steps.sock",
    "ANIMUS_STEPSTORE_TOKEN=s3cret animus step-store serve --http 127.0.0.1:4180",
    "animus step-store serve --http 0.0.0.0:4180 --token-file /run/secrets/stepstore",
    "animus step-store serve --db postgresql://animus@db.internal/animus",
    "echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"begin_workflow_run\","
    "\"params\":{\"run_id\":\"r1\",\"phase_id\":\"build\",\"inputs\":{}}}' | animus step-store serve",
))
@click.option("--stdio", "stdio", is_flag=True, help="Newline-delimited JSON-RPC on stdin/stdout (the default).")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), default=None,
              help="Listen on this Unix socket (mode 0600) instead.")
@click.option("--http", "http_addr", metavar="HOST:PORT", default=None,
              help="Listen for HTTP POSTs (one JSON-RPC message per request) with a bearer token.")
@click.option("--token-env", default=TOKEN_ENV, show_default=True, metavar="NAME",
              help="With --http: the environment variable holding the bearer token.")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="With --http: read the bearer token from this file instead (first line).")
@click.option("--db", "db_url", metavar="URL", default=None,
              help="Database (default: $ANIMUS_DATABASE_URL, else the project's SQLite file).")
@common_options
def serve(app: AppContext, stdio: bool, socket_path: str | None, http_addr: str | None, token_env: str,
          token_file: str | None, db_url: str | None) -> None:
    """Serve the step-store on stdio (default), a Unix socket or HTTP until the client leaves or SIGTERM."""
    from animus import procs
    from animus.stepstore import Http, Socket, Stdio, Transport, serve
    from animus.store import database_url

    if sum(bool(x) for x in (stdio, socket_path, http_addr)) > 1:
        raise InvalidInput("choose one transport: --stdio, --socket PATH or --http HOST:PORT")
    transport: Transport = Stdio()
    if socket_path:
        transport = Socket(Path(socket_path).expanduser())
    elif http_addr:
        host, _, port = http_addr.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidInput(f"--http wants HOST:PORT, got {http_addr!r}")
        transport = Http(host.strip("[]"), int(port), _token(token_env, token_file))
    layout = app.project().layout
    procs.private_dir(layout.logs_dir, top=layout.private_top)
    url = db_url or database_url(layout.db_path)
    app.close()
    serve(db_url=url, state_dir=layout.state_dir, transport=transport, log_file=layout.logs_dir / "step-store.log")


def _token(env_name: str, token_file: str | None) -> str:
    """The bearer token from a file or the environment: never from argv, where `ps` and logs would show it."""
    if token_file:
        lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
        where = token_file
    else:
        token = os.environ.get(env_name, "").strip()
        where = f"${env_name}"
    if len(token) < 16:
        raise InvalidInput(f"--http needs a bearer token of at least 16 characters in {where}",
                           hint=f"export {TOKEN_ENV}=$(openssl rand -hex 24), or pass --token-file")
    return token

"""`animus source …`: the configured task sources, a sync now, and a credentials check."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example


@click.group("source", epilog=example("animus source list", "animus source check gh-issues", "animus source sync --json"))
def source() -> None:
    """List, sync and check the task sources (GitHub issues, Linear, Markdown files)."""


def _context(app: AppContext) -> Any:
    from animus.sources import SourceContext

    project = app.project()
    return SourceContext(project.root, project.state_dir, project.worktrees_dir)


def _config(app: AppContext) -> Any:
    from animus.config import load_config

    return load_config(app.project())


@source.command("list", epilog=example("animus source list", "animus --json source list"))
@common_options
def list_sources(app: AppContext) -> None:
    """Every configured source: what it watches, last sync, counts, the last error."""
    from animus.services import source_overview

    rows = source_overview(app.store(), _config(app))

    def human(data: list[dict[str, Any]]) -> None:
        if not data:
            console().print("no sources configured (add `sources:` to .animus/workflows.yaml; see docs/sources.md)")
            return
        for row in data:
            state = "disabled" if not row["enabled"] else ("error" if row["last_error"] else "ok")
            console().print(f"{row['id']} ({row['type']}): {state} — {row['watches']}", markup=False, highlight=False)
            console().print(f"  linked {row['linked']} · imported {row['imported']} · updated {row['updated']} · "
                            f"cancelled {row['cancelled']} · last sync {row['last_sync_at'] or 'never'} · "
                            f"next {row['next_poll_at'] or 'at the daemon start'}", markup=False, highlight=False)
            if row["last_error"]:
                console().print(f"  last error ({row['errors_in_a_row']} in a row): {row['last_error']}", markup=False,
                                highlight=False)
            for problem in row["problems"][:10]:
                console().print(f"  problem: {problem}", markup=False, highlight=False)
            if row["status_pending"]:
                console().print(f"  status updates waiting to be sent: {row['status_pending']}", markup=False, highlight=False)

    app.emit(rows, human)


@source.command("sync", epilog=example("animus source sync", "animus source sync gh-issues --full", "animus --json source sync"))
@click.argument("source_ids", nargs=-1)
@click.option("--full", is_flag=True, help="List every live item (not only what changed since the cursor): notices deleted items.")
@common_options
def sync(app: AppContext, source_ids: tuple[str, ...], full: bool) -> None:
    """Sync the named sources (default: every enabled one) now; the daemon also does this every poll_secs."""
    from animus.sources import sync_now

    reports = [r.to_dict() for r in sync_now(app.store(), _config(app), _context(app), list(source_ids) or None, full=full)]

    def human(data: list[dict[str, Any]]) -> None:
        if not data:
            console().print("no enabled sources")
        for r in data:
            if not r["ok"]:
                console().print(f"{r['source']}: failed: {r['error']} (next try {r['next_poll_at']})", markup=False, highlight=False)
                continue
            console().print(f"{r['source']}: listed {r['listed']}, imported {len(r['imported'])}"
                            + (f" ({', '.join(r['imported'])})" if r["imported"] else "")
                            + f", updated {len(r['updated'])}, cancelled {len(r['cancelled'])}", markup=False, highlight=False)
            for problem in r["problems"]:
                console().print(f"  problem: {problem}", markup=False, highlight=False)

    _emit_or_fail(app, reports, human, "failed to sync")


@source.command("check", epilog=example("animus source check gh-issues", "animus --json source check"))
@click.argument("source_ids", nargs=-1)
@common_options
def check(app: AppContext, source_ids: tuple[str, ...]) -> None:
    """Verify credentials and filters without importing anything (exit 5 when a source fails)."""
    from animus.sources import check_source

    config = _config(app)
    chosen = list(source_ids) or [s.id for s in config.sources]
    results = [check_source(config, _context(app), sid) for sid in chosen]

    def human(data: list[dict[str, Any]]) -> None:
        if not data:
            console().print("no sources configured")
        for r in data:
            if r["ok"]:
                shown = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("source", "type", "enabled", "ok") and v is not None)
                console().print(f"✓ {r['source']} ({r['type']}): {shown}", markup=False, highlight=False)
            else:
                console().print(f"✗ {r['source']} ({r['type']}): {r['error']}", markup=False, highlight=False)
                if r.get("hint"):
                    console().print(f"  hint: {r['hint']}", markup=False, highlight=False)

    _emit_or_fail(app, results, human, "failed the check")


def _emit_or_fail(app: AppContext, results: list[dict[str, Any]], human: Any, what: str) -> None:
    """Print the results; exit 5 when a source failed (with --json the error envelope carries every result)."""
    from animus.domain.errors import Unavailable

    failed = [r for r in results if not r["ok"]]
    if not failed or not app.json_output:
        app.emit(results, human)
    if failed:
        raise Unavailable(f"{len(failed)} source(s) {what}: " + "; ".join(f"{r['source']}: {r['error']}" for r in failed),
                          details={"results": results})

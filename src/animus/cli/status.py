"""`animus status`: the daemon, the pool, the queue, running agents, recent results, open gates, waiting PRs."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example


@click.command("status", epilog=example("animus status", "animus status --json"))
@common_options
def status(app: AppContext) -> None:
    """Daemon, pool, queue, running agents, recent results, open gates, runs waiting on their PR."""
    from animus import services
    from animus.cli.daemon import config_if_valid, lease_secs
    from animus.daemon import daemon_section

    project = app.project()
    store = app.store()
    data: dict[str, Any] = dict(services.status_report(store, daemon_section(project.state_dir), project.runs_dir))
    config = config_if_valid(app)
    data["fleet"] = services.fleet_members(store, lease_secs(app, config))
    data["sources"] = services.source_overview(store, config) if config is not None and config.sources else []
    data["plugins"] = services.plugin_health(project.state_dir)
    app.emit(data, _render)


def _render(d: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from animus.cli.daemon import render_daemon

    out = console()
    render_daemon(d["daemon"])
    fleet = d.get("fleet") or []
    if len(fleet) > 1 or any(m["state"] != "alive" for m in fleet if m["executor_id"] != d["daemon"].get("executor_id")):
        counts = {s: sum(1 for m in fleet if m["state"] == s) for s in ("alive", "dead", "stopped")}
        out.print(f"fleet:  {counts['alive']} alive, {counts['dead']} dead, {counts['stopped']} stopped  "
                  "(`animus daemon list` for each)")
    pool, q = d["pool"], d["queue"]
    if pool["size"] is not None:
        out.print(f"pool:   {pool['used']}/{pool['size']} in use")
    else:  # the pool is the daemon's: without one there is no size to show
        out.print("pool:   none (no daemon)" + (f"; {pool['used']} dispatched runs still active" if pool["used"] else ""))
    depth = ", ".join(f"{k} {v}" for k, v in q["by_priority"].items() if v) or "empty"
    out.print(f"queue:  {q['queued']} waiting ({depth}); {q['held']} held; {q['dispatched']} dispatched")
    if d["running_agents"]:
        table = Table(title="running agents", title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
        for column in ("RUN", "PHASE", "AGENT RUN", "ELAPSED", "TOKENS", "COST"):
            table.add_column(column)
        for a in d["running_agents"]:
            table.add_row(a["run_id"], f"{a['phase']} #{a['attempt']}", a["agent_run_id"], f"{a['elapsed_secs']:.0f}s",
                          str(a["input_tokens"] + a["output_tokens"]), f"${a['cost_usd']:.4f}")
        out.print(table)
    for gate in d["waiting_gates"]:
        out.print(Text.assemble(("⏸ ", "yellow"), f"{gate['run_id']} waits at {gate['phase']}: ", (gate["approve"], "bold")))
    for src in d.get("sources") or []:
        if src["last_error"]:
            out.print(Text(f"source {src['id']}: {src['last_error']} ({src['errors_in_a_row']} failed sync(s) in a row; "
                           f"next try {src['next_poll_at']})", style="red"))
        else:
            out.print(Text(f"source {src['id']}: {src['linked']} linked, last sync {src['last_sync_at'] or 'never'}"))
    for plugin in d.get("plugins") or []:
        if plugin["state"] in ("crashed", "failed_to_start"):
            out.print(Text(f"plugin {plugin['name']}: {plugin['state']} at {plugin['at']} after {plugin['restarts']} restart(s): "
                           f"{(plugin['last_error'] or '')[:120]}", style="red"))
        elif plugin["state"] == "running" and plugin["restarts"]:
            out.print(Text(f"plugin {plugin['name']}: running, restarted {plugin['restarts']} time(s); last: "
                           f"{(plugin['last_error'] or '')[:100]}", style="yellow"))
    for pr in d.get("waiting_prs") or []:
        reworks = f" ({pr['reworks']} rework(s) so far)" if pr["reworks"] else ""
        out.print(Text.assemble(("⏳ ", "yellow"), f"{pr['run_id']} waits on its pull request: ", (pr["pr_url"] or "?", "bold"), reworks))
    for limit in d.get("paused_providers") or []:
        out.print(Text.assemble(("⏸ ", "red"), f"provider {limit['provider']} paused by a usage limit for "
                                f"{max(0, limit['resets_in_secs']):.0f}s more: {limit['reason'][:100]}"))
    for parked in d.get("parked_runs") or []:
        out.print(Text.assemble(("⏸ ", "yellow"), f"{parked['run_id']} parked at its budget after ${parked['cost_usd']:.4f}: "
                                f"{(parked['reason'] or '')[:120]}"))
    notes = d.get("notifications") or {}
    if any(notes.get(k) for k in ("pending", "delivered", "dead")):
        out.print(Text(f"notifications: {notes.get('pending', 0)} pending, {notes.get('delivered', 0)} delivered, {notes.get('dead', 0)} dead letters"
                       + (f" (last: {notes['dead_letters'][0]['last_error']})" if notes.get("dead_letters") else "")))
    if d["recent"]:
        table = Table(title="recent runs", title_justify="left", show_edge=False, pad_edge=False, header_style="bold")
        for column in ("RUN", "STATUS", "ENDED", "REASON"):
            table.add_column(column)
        for r in d["recent"]:
            style = "green" if r["status"] == "completed" else "red"
            table.add_row(r["run_id"], Text(r["status"], style=style), (r["ended_at"] or "")[:19], (r["failure_reason"] or "")[:80])
        out.print(table)

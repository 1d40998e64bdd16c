"""`animus plugin …`: the plugins found for this project, one plugin's details, a live check, and the trust lock."""

from __future__ import annotations

from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example


@click.group(
    "plugin",
    epilog=example("animus plugin list", "animus plugin lock", "animus plugin check --json", "animus plugin info nodeedit"),
)
def plugin() -> None:
    """List, inspect, check and lock plugins (executables speaking JSON-RPC on stdio; docs/plugins.md)."""


def _host(app: AppContext) -> Any:
    from animus.plugins import PluginHost

    project = app.project()
    return PluginHost(project.root, project.state_dir)


def _say(text: str) -> None:
    console().print(text, markup=False, highlight=False)


@plugin.command("list", epilog=example("animus plugin list", "animus plugin list --json"))
@common_options
def list_plugins(app: AppContext) -> None:
    """Every plugin found (plugins.yaml, .animus/plugins/, $ANIMUS_PLUGIN_PATH): kind, version, lock state."""
    rows = [s.to_dict() for s in _host(app).statuses()]

    def human(data: list[dict[str, Any]]) -> None:
        if not data:
            _say("no plugins found (put animus-plugin-<name> in .animus/plugins/, or name it in .animus/plugins.yaml)")
            return
        for row in data:
            manifest = row["manifest"] or {}
            kind = manifest.get("plugin_kind", "?")
            version = manifest.get("version", "?")
            _say(f"{row['name']}  {kind}  {version}  {row['lock']}  {row['binary']}  ({row['origin']})")
            if manifest.get("description"):
                _say(f"  {manifest['description']}")
            if row["error"]:
                _say(f"  problem: {row['error']}")
        if any(row["lock"] != "locked" for row in data):
            _say("plugins that are not `locked` are not started: run `animus plugin lock` to trust them")

    app.emit(rows, human)


@plugin.command("info", epilog=example("animus plugin info nodeedit", "animus plugin info nodeedit --json"))
@click.argument("name")
@common_options
def info(app: AppContext, name: str) -> None:
    """One plugin: where it is, its lock entry, and its manifest (read with `--manifest`)."""
    from animus.plugins import read_lock

    host = _host(app)
    source = host.source(name)
    lock = read_lock(host.project_root)
    data = {
        **source.to_dict(),
        "lock": host.lock_state(name),
        "locked": lock[name].to_dict() if name in lock else None,
        "manifest": host.manifest(name).to_dict(),
        "log": str(host.log_path(name)),
    }

    def human(d: dict[str, Any]) -> None:
        m = d["manifest"]
        _say(f"{d['name']} {m['version']} ({m['plugin_kind']}, protocol {m['protocol_version']})")
        _say(f"  {m['description']}")
        _say(f"  binary: {d['binary']} ({d['origin']})")
        _say(f"  lock: {d['lock']}" + (f" sha256 {d['locked']['sha256']}" if d["locked"] else ""))
        _say(f"  capabilities: {', '.join(m['capabilities']) or 'none'}")
        _say(f"  log: {d['log']}")

    app.emit(data, human)


@plugin.command("check", epilog=example("animus plugin check", "animus plugin check nodeedit --json"))
@click.argument("names", nargs=-1)
@common_options
def check(app: AppContext, names: tuple[str, ...]) -> None:
    """Start each plugin (default: every one found), do the handshake, ping it, ask health/check, shut it down."""
    from animus.domain.errors import AnimusError, PluginError

    host = _host(app)
    results = []
    try:
        for name in names or tuple(host.sources(refresh=True)):
            row: dict[str, Any] = {"name": name, "ok": False}
            try:
                client = host.client(name)
                row["info"] = client.info.to_dict() if client.info else None
                row["ping"] = client.ping()
                row["health"] = next((h.to_dict() for h in host.health() if h.name == name), None)
                row["ok"] = bool(row["ping"]) and (row["health"] or {}).get("status") != "unhealthy"
            except AnimusError as exc:
                row["error"] = exc.message + (f" ({exc.hint})" if exc.hint else "")
            results.append(row)
    finally:
        host.close()

    def human(data: list[dict[str, Any]]) -> None:
        if not data:
            _say("no plugins found")
        for row in data:
            if row["ok"]:
                info = row["info"] or {}
                _say(f"{row['name']}: ok — {info.get('plugin_kind')} {info.get('version')}, "
                     f"{len((info.get('capabilities') or {}).get('methods', []))} method(s), health {row['health']['status']}")
            else:
                _say(f"{row['name']}: FAILED — {row.get('error') or 'no answer to $/ping or health/check'}")

    failed = [r for r in results if not r["ok"]]
    if not failed or not app.json_output:  # with --json the error envelope carries every result
        app.emit(results, human)
    if failed:
        raise PluginError(f"{len(failed)} plugin(s) failed the check", details={"results": results})


@plugin.command("lock", epilog=example("animus plugin lock", "animus plugin lock --json"))
@common_options
def lock(app: AppContext) -> None:
    """Trust the plugins found now: write each binary's sha256 to .animus/plugins.lock (a changed binary is refused until then)."""
    from animus.plugins import lock_path

    host = _host(app)
    entries = {name: entry.to_dict() for name, entry in host.lock().items()}
    data = {"lock_file": str(lock_path(host.project_root)), "plugins": entries}

    def human(d: dict[str, Any]) -> None:
        for name, entry in d["plugins"].items():
            _say(f"locked {name} {entry['version']} ({entry['plugin_kind']}) sha256 {entry['sha256'][:16]}…")
        _say(f"wrote {d['lock_file']}" + ("" if d["plugins"] else " (no plugins found)"))

    app.emit(data, human)

"""`animus plugin list|info|check|lock`, human and --json, against the reference plugins."""

from __future__ import annotations

from pathlib import Path

from support.cli import run_animus
from support.plugins import NODE_EDITOR, PYECHO, install
from support.repo import make_repo


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    install(repo, NODE_EDITOR)
    install(repo, PYECHO)
    return repo


def test_list_shows_the_reference_plugins_and_their_lock_state(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    listed = run_animus(["plugin", "list", "--json"], cwd=repo).json()
    assert [(p["name"], p["manifest"]["plugin_kind"], p["lock"]) for p in listed] == [
        ("nodeedit", "provider", "unlocked"),
        ("pyecho", "custom", "unlocked"),
    ]
    human = run_animus(["plugin", "list"], cwd=repo)
    assert human.code == 0 and "nodeedit  provider  0.3.0  unlocked" in human.stdout and "animus plugin lock" in human.stdout

    locked = run_animus(["plugin", "lock", "--json"], cwd=repo).json()
    assert sorted(locked["plugins"]) == ["nodeedit", "pyecho"]
    assert (repo / ".animus" / "plugins.lock").is_file()
    assert [p["lock"] for p in run_animus(["plugin", "list", "--json"], cwd=repo).json()] == ["locked", "locked"]


def test_check_starts_each_plugin_and_asks_its_health(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    refused = run_animus(["plugin", "check", "--json"], cwd=repo)
    assert refused.code == 1 and "not in .animus/plugins.lock" in refused.stderr
    assert run_animus(["plugin", "lock"], cwd=repo).code == 0
    checked = run_animus(["plugin", "check", "--json"], cwd=repo).json()
    assert [(c["name"], c["ok"], c["health"]["status"]) for c in checked] == [("nodeedit", True, "healthy"), ("pyecho", True, "healthy")]
    assert "agent/run" in checked[0]["info"]["capabilities"]["methods"]


def test_info_names_the_binary_the_lock_and_the_manifest(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    run_animus(["plugin", "lock"], cwd=repo)
    info = run_animus(["plugin", "info", "pyecho", "--json"], cwd=repo).json()
    assert info["lock"] == "locked" and len(info["locked"]["sha256"]) == 64
    assert info["manifest"]["version"] == "1.2.0" and info["log"].endswith("logs/plugins/pyecho.log")
    missing = run_animus(["plugin", "info", "nope", "--json"], cwd=repo)
    assert missing.code == 3 and missing.error()["code"] == "not_found"


def test_a_changed_binary_shows_as_changed_and_is_not_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    run_animus(["plugin", "lock"], cwd=repo)
    binary = repo / ".animus" / "plugins" / PYECHO.name
    binary.write_text(binary.read_text().replace('"1.2.0"', '"6.6.6"'))
    rows = {p["name"]: p for p in run_animus(["plugin", "list", "--json"], cwd=repo).json()}
    assert rows["pyecho"]["lock"] == "changed" and rows["pyecho"]["manifest"] is None  # not run to read it
    refused = run_animus(["plugin", "info", "pyecho", "--json"], cwd=repo)
    assert refused.code == 4 and "changed since it was locked" in refused.error()["message"]


def test_doctor_checks_a_plugin_agent_is_found_and_locked_without_starting_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert run_animus(["init"], cwd=repo).code == 0
    path = repo / ".animus" / "workflows.yaml"
    text = path.read_text()
    start, end = text.index("agents:\n"), text.index("# Phases:")
    path.write_text(text[:start] + "agents:\n  default:\n    tool: scripted\n  scripted:\n    tool: scripted\n  spare:\n    tool: plugin:nodeedit\n"
                    "  ghost:\n    tool: plugin:ghost\n\n" + text[end:])

    def checks() -> dict[str, dict[str, object]]:
        import json

        result = run_animus(["doctor", "--json"], cwd=repo)
        return {c["name"]: c for c in json.loads(result.stdout)["data"]["checks"]}

    before = checks()
    assert before["agent spare"]["status"] == "warn" and "unlocked" in str(before["agent spare"]["detail"])
    assert "no plugin named 'ghost'" in str(before["agent ghost"]["detail"])
    run_animus(["plugin", "lock"], cwd=repo)
    assert checks()["agent spare"]["status"] == "ok"


def test_status_shows_a_plugin_that_crashed_under_its_host_without_starting_it(tmp_path: Path) -> None:
    from animus.config.project import state_dir_for
    from animus.domain.errors import PluginError
    from animus.plugins import PluginHost

    repo = _repo(tmp_path)
    assert run_animus(["plugin", "lock"], cwd=repo).code == 0
    assert run_animus(["status", "--json"], cwd=repo).json()["plugins"] == []  # nothing has run a plugin yet

    host = PluginHost(repo, state_dir_for(repo))  # as the daemon's source or trigger thread holds one
    try:
        pid = host.call("pyecho", "echo/pid")["pid"]
        running = {p["name"]: p for p in run_animus(["status", "--json"], cwd=repo).json()["plugins"]}
        assert (running["pyecho"]["state"], running["pyecho"]["pid"], running["pyecho"]["restarts"]) == ("running", pid, 0)
        try:
            host.call("pyecho", "echo/crash", {"code": 7}, timeout=10)
        except PluginError:
            pass
        host.call("pyecho", "echo/pid", timeout=10)  # the host notes the crash and starts it again
        human = run_animus(["status"], cwd=repo)
        assert human.code == 0 and "plugin pyecho: running, restarted 1 time(s); last:" in human.stdout
        assert "exited with code 7" in human.stdout
    finally:
        host.close()
    after = run_animus(["status", "--json"], cwd=repo).json()["plugins"]
    assert [(p["name"], p["state"], p["restarts"]) for p in after] == [("pyecho", "stopped", 1)]
    assert "exited with code 7" in after[0]["last_error"]

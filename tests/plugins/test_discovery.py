"""Where plugins are found, what `--manifest` must look like, and the lock that refuses changed binaries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from animus.domain.errors import Conflict, InvalidInput, PluginError
from animus.plugins import PluginHost, discover, lock_path, plugin_name_of, probe_manifest, read_lock
from support.plugins import PYECHO, install


def test_plugin_names_come_from_the_two_prefixes() -> None:
    assert plugin_name_of("animus-plugin-jira") == "jira"
    assert plugin_name_of("animus-provider-echo.js") == "echo"
    assert plugin_name_of("animus-jira") is None
    assert plugin_name_of("my-plugin") is None


def test_discovery_reads_yaml_then_the_plugin_dir_then_the_plugin_path(
    project: Path, tmp_path: Path, animus_home: Path
) -> None:
    install(project, PYECHO)  # .animus/plugins/animus-plugin-pyecho
    (project / ".animus" / "plugins" / "animus-plugin-notexec").write_text("#!/bin/sh\n")  # not executable: ignored
    install(project, PYECHO, "README-plugin")  # not a plugin name: ignored
    extra = tmp_path / "extra"
    install(extra, PYECHO, "animus-plugin-pathy")
    install(extra, PYECHO, "animus-plugin-pyecho")  # shadowed by the project's
    (project / ".animus" / "plugins.yaml").write_text(
        "plugins:\n  named:\n    binary: tools/echo\n    args: [--quiet]\n    env: [PYECHO_MODE]\n"
    )
    animus_home.mkdir(parents=True, exist_ok=True)
    (animus_home / "plugins.yaml").write_text("plugins:\n  named: /elsewhere/echo\n  homey: /opt/homey\n")

    found = {s.name: s for s in discover(project, environ={"ANIMUS_PLUGIN_PATH": str(extra / ".animus" / "plugins")})}

    assert sorted(found) == ["homey", "named", "pathy", "pyecho"]
    assert found["named"].binary == project / "tools" / "echo"  # the project's yaml beats the home one
    assert found["named"].args == ("--quiet",) and found["named"].env == ("PYECHO_MODE",)
    assert found["homey"].origin == "~/.animus/plugins.yaml"
    assert found["pyecho"].origin == ".animus/plugins/"
    assert found["pathy"].origin == "$ANIMUS_PLUGIN_PATH"


def test_a_plugins_yaml_with_an_unknown_key_names_it(project: Path) -> None:
    (project / ".animus" / "plugins.yaml").write_text("plugins:\n  x:\n    binary: a\n    bniary: b\n")
    with pytest.raises(InvalidInput, match="unknown key.*bniary"):
        discover(project)


def test_the_manifest_is_read_with_stdin_closed_and_a_scrubbed_env(
    project: Path, pyecho: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_API_TOKEN", "s3cr3t-value")
    monkeypatch.setenv("PYECHO_MODE", "env-manifest")
    (project / ".animus" / "plugins.yaml").write_text(f"plugins:\n  pyecho:\n    binary: {pyecho}\n    env: [PYECHO_MODE]\n")
    source = discover(project)[0]
    manifest = probe_manifest(source, cwd=project)
    names = manifest.description.split()
    assert "PATH" in names and "PYECHO_MODE" in names
    assert "SOME_API_TOKEN" not in names and not any(n.startswith("ANIMUS_") for n in names)


def test_a_good_manifest_has_every_field(project: Path, pyecho: Path) -> None:
    manifest = probe_manifest(discover(project)[0], cwd=project)
    assert manifest.to_dict() == {
        "name": "pyecho",
        "version": "1.2.0",
        "plugin_kind": "custom",
        "description": "echoes, sleeps and crashes on request (animus's test plugin)",
        "protocol_version": "1.0.0",
        "capabilities": ["echo/say", "echo/sleep", "echo/crash", "echo/notify", "echo/pid", "echo/flood"],
    }


@pytest.mark.parametrize(
    ("mode", "message"),
    [("huge-manifest", "more than 1048576 bytes"), ("bad-manifest", "did not print one JSON object")],
)
def test_a_broken_manifest_is_refused(project: Path, pyecho: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str) -> None:
    monkeypatch.setenv("PYECHO_MODE", mode)
    (project / ".animus" / "plugins.yaml").write_text(f"plugins:\n  pyecho:\n    binary: {pyecho}\n    env: [PYECHO_MODE]\n")
    with pytest.raises(PluginError, match=message):
        probe_manifest(discover(project)[0], cwd=project)


def test_a_manifest_that_hangs_is_killed_after_five_seconds(project: Path, pyecho: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYECHO_MODE", "slow-manifest")
    (project / ".animus" / "plugins.yaml").write_text(f"plugins:\n  pyecho:\n    binary: {pyecho}\n    env: [PYECHO_MODE]\n")
    started = time.monotonic()
    with pytest.raises(PluginError, match="did not finish within 5s"):
        probe_manifest(discover(project)[0], cwd=project)
    assert time.monotonic() - started < 8


def test_an_unlocked_plugin_is_not_started(make_host: Callable[..., PluginHost], pyecho: Path) -> None:
    host = make_host()
    with pytest.raises(Conflict, match="not in .animus/plugins.lock") as caught:
        host.call("pyecho", "echo/say", {"text": "hi"})
    assert caught.value.hint is not None and "animus plugin lock" in caught.value.hint


def test_a_changed_binary_is_refused_until_locked_again(project: Path, make_host: Callable[..., PluginHost], pyecho: Path) -> None:
    host = make_host()
    host.lock()
    entry = json.loads(lock_path(project).read_text())["plugins"]["pyecho"]
    assert entry["version"] == "1.2.0" and len(entry["sha256"]) == 64

    pyecho.write_text(pyecho.read_text() + "\n# changed\n")
    fresh = make_host()
    with pytest.raises(Conflict, match="changed since it was locked"):
        fresh.call("pyecho", "echo/say", {"text": "hi"})
    assert [s.lock for s in fresh.statuses()] == ["changed"]

    fresh.lock()
    assert read_lock(project)["pyecho"].sha256 != entry["sha256"]
    assert fresh.call("pyecho", "echo/say", {"text": "hi"}) == {"text": "hi"}


def test_an_unknown_plugin_is_not_found(host: PluginHost) -> None:
    from animus.domain.errors import NotFound

    with pytest.raises(NotFound, match="found: pyecho"):
        host.call("nope", "x")


def test_plugins_of_a_kind_are_the_locked_ones_as_the_lock_recorded_them(project: Path, make_host: Callable[..., PluginHost], pyecho: Path) -> None:
    from support.plugins import NODE_EDITOR

    install(project, NODE_EDITOR)
    host = make_host()
    assert host.of_kind("provider") == []  # nothing locked yet
    host.lock()
    assert (host.of_kind("provider"), host.of_kind("custom")) == (["nodeedit"], ["pyecho"])
    pyecho.write_text(pyecho.read_text() + "\n# changed\n")
    assert host.of_kind("custom") == []


def test_a_committed_lock_holds_in_another_clone_of_the_project(project: Path, tmp_path: Path, make_host: Callable[..., PluginHost], pyecho: Path) -> None:
    import shutil

    make_host().lock()
    assert json.loads(lock_path(project).read_text())["plugins"]["pyecho"]["binary"] == ".animus/plugins/animus-plugin-pyecho"
    elsewhere = tmp_path / "another-clone"
    shutil.copytree(project, elsewhere, symlinks=True)
    clone = PluginHost(elsewhere, tmp_path / "state2")
    try:
        assert clone.lock_state("pyecho") == "locked"
        assert clone.call("pyecho", "echo/say", {"text": "here too"}) == {"text": "here too"}
    finally:
        clone.close()

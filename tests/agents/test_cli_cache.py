"""Finding an agent CLI: the `binary:` key, then PATH, then the `animus agents install` cache (the real one too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.agents import cached_cli, find_cli, pinned_clis
from support import realcli


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "opencode", "aider"])
def test_the_real_installed_cache_is_found_when_the_cli_is_not_on_path(tool: str) -> None:
    installed = realcli.cli_path(tool)
    if installed is None:
        pytest.skip(f"{tool} is not in the install cache ({realcli.cache_dir()}); run `animus agents install {tool}`")
    found = find_cli(tool, pinned_clis()[tool].binary, path="/nonexistent")
    assert found is not None and found.source == "cache" and Path(found.path) == installed
    assert cached_cli(tool) == installed


def test_an_unstamped_directory_is_not_an_installed_cli(tmp_path: Path) -> None:
    env = {"ANIMUS_CLI_CACHE": str(tmp_path)}
    binary = tmp_path / "claude-9.9.9" / "node_modules" / ".bin" / "claude"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert cached_cli("claude", environ=env) is None
    (tmp_path / "claude-9.9.9" / ".animus-installed").write_text("@anthropic-ai/claude-code@9.9.9\n")
    assert cached_cli("claude", environ=env) == binary  # not the pinned version, but the only one installed
    assert find_cli("claude", "claude", path="/nonexistent", environ=env) is not None


def test_a_configured_binary_wins_and_is_never_replaced(tmp_path: Path) -> None:
    env = {"ANIMUS_CLI_CACHE": str(tmp_path / "none")}
    mine = tmp_path / "my-claude"
    mine.write_text("#!/bin/sh\n")
    mine.chmod(0o755)
    found = find_cli("claude", "claude", configured=str(mine), path="/usr/bin", environ=env)
    assert found is not None and found.source == "binary" and found.path == str(mine)
    assert find_cli("claude", "claude", configured=str(tmp_path / "gone"), path="/usr/bin", environ=env) is None

"""`agents.<id>.binary`: a CLI elsewhere than PATH or the install cache, strictly a program, where it applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.agents import profile_from_config
from animus.config import config_json_schema, load_config_files
from animus.domain.errors import ConfigError

CONFIG = """\
agents:
  a: {tool: claude, binary: tools/claude}
  b: {tool: codex}
phases:
  impl: {mode: agent, agent: a}
  review: {mode: agent, agent: b}
workflows:
  - {id: w, phases: [impl, review]}
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "workflows.yaml").write_text(text)
    return load_config_files([tmp_path / "workflows.yaml"], tmp_path)


def test_binary_is_optional_and_a_relative_path_is_the_projects(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG)
    assert (config.agents["a"].binary, config.agents["b"].binary) == ("tools/claude", None)
    profile = profile_from_config(config.agents["a"], config.mcp_servers, root=tmp_path)
    assert profile.binary == str(tmp_path / "tools" / "claude")
    bare = load(tmp_path, CONFIG.replace("tools/claude", "claude-beta"))
    assert profile_from_config(bare.agents["a"], root=tmp_path).binary == "claude-beta"  # looked up on PATH


def test_binary_must_be_a_string_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, CONFIG.replace("binary: tools/claude", "binary: 5"))
    assert "workflows.yaml:2:" in str(err.value) and "binary" in str(err.value)


def test_binary_does_not_apply_to_command_or_scripted_agents(tmp_path: Path) -> None:
    text = CONFIG.replace("b: {tool: codex}", "b: {tool: scripted, binary: x}")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert "'binary' of agent 'b' does not apply to tool 'scripted'" in str(err.value)


def test_binary_is_in_the_strict_json_schema() -> None:
    agent = config_json_schema()["$defs"]["AgentConfig"]
    assert "binary" in agent["properties"] and agent.get("additionalProperties") is False

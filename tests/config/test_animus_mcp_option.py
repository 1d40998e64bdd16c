"""`agents.<id>.animus_mcp`: on by default, switchable per agent, and strictly a boolean."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.config import AgentConfig, load_config_files
from animus.domain.errors import ConfigError

CONFIG = """\
agents:
  a: {tool: claude}
  b: {tool: codex, animus_mcp: false}
phases:
  impl: {mode: agent, agent: a}
  review: {mode: agent, agent: b}
workflows:
  - {id: w, phases: [impl, review]}
"""


def test_animus_mcp_defaults_to_true_and_can_be_switched_off(tmp_path: Path) -> None:
    (tmp_path / "workflows.yaml").write_text(CONFIG)
    config = load_config_files([tmp_path / "workflows.yaml"], tmp_path)
    assert (config.agents["a"].animus_mcp, config.agents["b"].animus_mcp) == (True, False)


def test_animus_mcp_rejects_a_non_boolean_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "workflows.yaml").write_text(CONFIG.replace("animus_mcp: false", "animus_mcp: 1"))
    with pytest.raises(ConfigError) as err:
        load_config_files([tmp_path / "workflows.yaml"], tmp_path)
    assert "workflows.yaml:3:32: animus_mcp of agent 'b' must be true or false" in str(err.value)


def test_animus_mcp_is_in_the_strict_schema() -> None:
    assert "animus_mcp" in AgentConfig.model_json_schema()["properties"]

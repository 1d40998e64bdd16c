"""`agents.<id>.env_inherit`: all by default, none, or a list of names and globs — strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.agents import profile_from_config
from animus.config import AgentConfig, load_config_files
from animus.domain.errors import ConfigError

CONFIG = """\
agents:
  a: {tool: claude}
  b: {tool: codex, env_inherit: none}
  c: {tool: gemini, env_inherit: [JAVA_HOME, "AWS_*"]}
phases:
  impl: {mode: agent, agent: a}
workflows:
  - {id: w, phases: [impl]}
"""


def _load(tmp_path: Path, text: str) -> object:
    (tmp_path / "workflows.yaml").write_text(text)
    return load_config_files([tmp_path / "workflows.yaml"], tmp_path)


def test_env_inherit_defaults_to_all_and_reaches_the_profile(tmp_path: Path) -> None:
    config = _load(tmp_path, CONFIG)
    agents = config.agents  # type: ignore[attr-defined]
    assert [agents[k].env_inherit for k in "abc"] == ["all", "none", ("JAVA_HOME", "AWS_*")]
    assert [profile_from_config(agents[k]).env_inherit for k in "abc"] == ["all", "none", ("JAVA_HOME", "AWS_*")]


@pytest.mark.parametrize("bad", ["some", "[JAVA HOME]", "true"])
def test_env_inherit_rejects_anything_else_with_its_position(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, CONFIG.replace("env_inherit: none", f"env_inherit: {bad}"))
    assert "workflows.yaml:3:" in str(err.value) and "env_inherit" in str(err.value)


def test_env_inherit_is_in_the_strict_schema() -> None:
    assert "env_inherit" in AgentConfig.model_json_schema()["properties"]

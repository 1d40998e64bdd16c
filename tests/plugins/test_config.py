"""`tool: plugin:<name>` in the configuration: accepted, validated, and `binary` refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from animus.config import load_config_files
from animus.domain.errors import ConfigError

CONFIG = """\
agents:
  a: {{tool: "{tool}"{more}}}
phases:
  impl: {{mode: agent, agent: a}}
workflows:
  - {{id: w, phases: [impl]}}
"""


def _load(tmp_path: Path, tool: str, more: str = "") -> object:
    (tmp_path / "workflows.yaml").write_text(CONFIG.format(tool=tool, more=more))
    return load_config_files([tmp_path / "workflows.yaml"], tmp_path)


def test_a_plugin_tool_is_accepted(tmp_path: Path) -> None:
    config = _load(tmp_path, "plugin:nodeedit")
    assert config.agents["a"].tool == "plugin:nodeedit"  # type: ignore[attr-defined]


@pytest.mark.parametrize("tool", ["plugin:", "plugin:../x", "plugins:x"])
def test_a_malformed_plugin_tool_names_the_choices(tmp_path: Path, tool: str) -> None:
    with pytest.raises(ConfigError, match=r"allowed: claude, .*scripted, plugin:<name>"):
        _load(tmp_path, tool)


def test_binary_does_not_apply_to_a_plugin_tool(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'binary' of agent 'a' does not apply to tool 'plugin:x'"):
        _load(tmp_path, "plugin:x", ", binary: /bin/true")

"""`animus init` and `animus config validate|show|schema` through the real CLI in a real git repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from animus.config import DEFAULT_TEST_COMMAND
from animus.config._template import _DEMO_TEST_COMMAND


def test_init_writes_a_config_that_validates(repo: Path, animus) -> None:
    result = animus("init", "--json", cwd=repo)
    assert result.code == 0, result.stderr
    data = result.json_out()["data"]
    token_file = Path(data.pop("token_file"))
    assert data == {"path": str(repo / ".animus" / "workflows.yaml"), "created": True, "overwritten": False,
                    "workflows_dir": str(repo / ".animus" / "workflows")}
    assert (repo / ".animus" / "workflows").is_dir()
    assert token_file.name == "web-token" and len(token_file.read_text().strip()) >= 32  # the API token exists
    assert token_file.stat().st_mode & 0o077 == 0  # readable by the owner only
    text = (repo / ".animus" / "workflows.yaml").read_text(encoding="utf-8")
    assert text.startswith("# animus workflow configuration")
    check = animus("config", "validate", "--json", cwd=repo)
    assert check.code == 0, check.stderr
    assert check.json_out()["data"] == {
        "valid": True,
        "files": [".animus/workflows.yaml"],
        "agents": 2,
        "phases": 6,
        "workflows": 2,
        "default_workflow": "standard",
    }


def test_init_refuses_to_overwrite_without_force(repo: Path, animus) -> None:
    assert animus("init", cwd=repo).code == 0
    target = repo / ".animus" / "workflows.yaml"
    target.write_text("# my edits\n", encoding="utf-8")
    again = animus("init", "--json", cwd=repo)
    assert again.code == 4
    assert again.json_err()["error"]["code"] == "conflict"
    assert "--force" in again.json_err()["error"]["hint"]
    assert target.read_text(encoding="utf-8") == "# my edits\n"
    forced = animus("init", "--force", "--json", cwd=repo)
    assert forced.code == 0
    assert forced.json_out()["data"]["overwritten"] is True
    assert target.read_text(encoding="utf-8").startswith("# animus workflow configuration")


def test_init_test_command_is_split_into_an_argv_list(repo: Path, animus) -> None:
    assert animus("init", "--test-command", "npm run test -- --grep 'login page'", cwd=repo).code == 0
    shown = animus("config", "show", "--json", cwd=repo).json_out()["data"]
    assert shown["phases"]["tests"]["command"]["argv"] == ["npm", "run", "test", "--", "--grep", "login page"]


def test_init_rejects_an_unsplittable_test_command(repo: Path, animus) -> None:
    result = animus("init", "--test-command", "pytest 'unclosed", cwd=repo)
    assert result.code == 2
    assert not (repo / ".animus" / "workflows.yaml").exists()


def test_default_config_round_trips_through_config_show_json(repo: Path, animus) -> None:
    assert animus("init", cwd=repo).code == 0
    first = animus("config", "show", "--json", cwd=repo).json_out()["data"]
    assert first["phases"]["tests"]["command"]["argv"] == list(DEFAULT_TEST_COMMAND)
    (repo / ".animus" / "workflows.yaml").write_text(json.dumps(first, indent=2), encoding="utf-8")
    assert animus("config", "validate", cwd=repo).code == 0
    second = animus("config", "show", "--json", cwd=repo).json_out()["data"]
    assert second == first


def test_config_show_prints_yaml_with_defaults_filled(repo: Path, animus) -> None:
    assert animus("init", cwd=repo).code == 0
    result = animus("config", "show", cwd=repo)
    assert result.code == 0
    assert "idle_timeout_secs: 900" in result.stdout
    assert "default_workflow: standard" in result.stdout


def test_validate_without_a_config_says_run_init(repo: Path, animus) -> None:
    result = animus("config", "validate", cwd=repo)
    assert result.code == 3
    assert "animus init" in result.stderr


def test_validate_human_output_lists_every_error_with_position(repo: Path, animus) -> None:
    (repo / ".animus").mkdir()
    (repo / ".animus" / "workflows.yaml").write_text(
        "agents:\n  a: {tool: claude, modle: x, timeout_secs: -1}\n", encoding="utf-8"
    )
    result = animus("config", "validate", cwd=repo)
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "error: 3 configuration error(s):"
    assert lines[1].startswith(".animus/workflows.yaml:1:1: no workflows defined")
    assert lines[2] == ".animus/workflows.yaml:2:21: unknown key 'modle' in agent 'a' (did you mean 'model'?)"
    assert lines[3] == ".animus/workflows.yaml:2:45: timeout_secs of agent 'a' must be > 0, got -1"


def test_the_template_requires_changes_of_implementation_and_keeps_review_read_only(repo: Path, animus) -> None:
    assert animus("init", cwd=repo).code == 0
    phases = animus("config", "show", "--json", cwd=repo).json_out()["data"]["phases"]
    assert [p for p, spec in phases.items() if spec["require_changes"]] == ["implementation", "demo-implementation"]
    assert [p for p, spec in phases.items() if spec["read_only"]] == ["review", "demo-review"]


def test_config_schema_prints_a_json_schema(repo: Path, animus) -> None:
    result = animus("config", "schema", cwd=repo)
    assert result.code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["AgentConfig"]["properties"]["tool"]["anyOf"][0]["enum"][0] == "claude"
    phase = schema["$defs"]["PhaseConfig"]["properties"]
    assert phase["require_changes"] == {"default": False, "title": "Require Changes", "type": "boolean"}
    assert phase["read_only"] == {"default": False, "title": "Read Only", "type": "boolean"}


def test_every_config_command_has_help_with_an_example(repo: Path, animus) -> None:
    for args in (("init",), ("config",), ("config", "validate"), ("config", "show"), ("config", "schema")):
        result = animus(*args, "--help", cwd=repo)
        assert result.code == 0
        assert "Examples:" in result.stdout, args


def test_demo_tests_command_passes_in_a_plain_repository(repo: Path) -> None:
    # The demo workflow's check must work in any repo: run it for real after a harmless edit.
    (repo / "demo.txt").write_text("hello from the scripted agent\n", encoding="utf-8")
    result = subprocess.run(list(_DEMO_TEST_COMMAND), cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_works_in_a_fresh_git_init_repo_without_commits(tmp_path: Path, animus) -> None:
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(fresh)], check=True)
    result = animus("--json", "init", cwd=fresh)
    assert result.code == 0, result.stderr
    assert result.json_out()["data"]["created"] is True
    assert animus("--json", "config", "validate", cwd=fresh).json_out()["data"]["valid"] is True


def test_init_says_to_commit_the_animus_directory(repo: Path, animus) -> None:
    result = animus("init", cwd=repo)
    assert result.code == 0, result.stderr
    assert ".animus/workflows" in result.stdout and "commit .animus/" in result.stdout

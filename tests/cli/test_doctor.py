"""`animus doctor` checks what the configuration uses: each agent's CLI, key and endpoint, with exit codes."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import run_animus

PINNED_CLAUDE = "@anthropic-ai/claude-code"


def write_program(path: Path, version: str) -> Path:
    """A real executable that answers `--version` like an agent CLI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport sys\nprint({version!r})\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """PATH with git and python but no agent CLI; an empty install cache."""
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    for tool in ("git",):
        real = next(p for p in os.environ["PATH"].split(os.pathsep) if (Path(p) / tool).is_file())
        (bare / tool).symlink_to(Path(real) / tool)
    return {"PATH": str(bare), "ANIMUS_CLI_CACHE": str(tmp_path / "empty-cache")}


def init(repo: Path, env: dict[str, str], agents_yaml: str | None = None) -> None:
    assert run_animus(["init"], cwd=repo, env=env).code == 0
    if agents_yaml is not None:
        path = repo / ".animus" / "workflows.yaml"
        text = path.read_text()
        start, end = text.index("agents:\n"), text.index("# Phases:")
        if "scripted:" not in agents_yaml:  # the template's demo phases use it
            agents_yaml += "  scripted:\n    tool: scripted\n"
        path.write_text(text[:start] + agents_yaml + "\n" + text[end:])


def checks_of(result) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    import json

    data = json.loads(result.stdout)["data"]
    return {c["name"]: c for c in data["checks"]}


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_default_config_without_claude_is_unhealthy_exit_5_and_names_the_install_command(
    repo: Path, env: dict[str, str]
) -> None:
    init(repo, env)
    result = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert result.code == 5, result.stderr
    assert result.error()["code"] == "unavailable"
    checks = checks_of(result)
    claude = checks["agent default"]
    assert claude["status"] == "fail" and claude["required"] is True
    assert "animus agents install claude" in str(claude["remedy"]) and PINNED_CLAUDE in str(claude["remedy"])
    # only the CLIs the configuration uses are checked: no warnings about codex, gemini, opencode, aider, gh
    assert not {"codex", "gemini", "opencode", "aider", "gh"} & set(checks)
    assert checks["agent scripted"]["status"] == "ok"
    human = run_animus(["doctor"], cwd=repo, env=env)
    assert human.code == 5 and "healthy\n" not in human.stdout and "unhealthy" in human.stdout
    assert "→ run `animus agents install claude`" in human.stdout


def test_unset_key_and_unreachable_endpoint_fail_and_each_names_its_fix(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    write_program(tmp_path / "bin" / "claude", "2.1.332 (Claude Code)")
    env = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    env.pop("DOCTOR_TEST_KEY", None)
    port = closed_port()
    init(repo, env, f"""agents:
  default:
    tool: claude
    api_key_env: DOCTOR_TEST_KEY
    base_url: http://127.0.0.1:{port}
""")
    result = run_animus(["doctor", "--json"], cwd=repo, env={**env, "DOCTOR_TEST_KEY": ""})
    assert result.code == 5, result.stderr
    checks = checks_of(result)
    assert checks["agent default"]["status"] == "ok"
    assert "2.1.332 (Claude Code)" in str(checks["agent default"]["detail"])
    assert "from PATH" in str(checks["agent default"]["detail"])
    key = checks["agent default key"]
    assert key["status"] == "fail" and "DOCTOR_TEST_KEY" in str(key["detail"])
    assert "export DOCTOR_TEST_KEY=" in str(key["remedy"])
    endpoint = checks["agent default endpoint"]
    assert endpoint["status"] == "fail" and f"127.0.0.1:{port}" in str(endpoint["detail"])
    assert "agents.default.base_url" in str(endpoint["remedy"])
    assert set(result.error()["details"]["failed"]) == {"agent default key", "agent default endpoint"}


def test_key_set_and_endpoint_listening_is_healthy_exit_0(
    repo: Path, env: dict[str, str], tmp_path: Path, listening: int
) -> None:
    write_program(tmp_path / "bin" / "claude", "2.1.332 (Claude Code)")
    env = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}", "DOCTOR_TEST_KEY": "k"}
    init(repo, env, f"""agents:
  default:
    tool: claude
    api_key_env: DOCTOR_TEST_KEY
    base_url: http://127.0.0.1:{listening}/v1
""")
    result = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["healthy"] is True
    assert {c["name"]: c["status"] for c in data["checks"]}["agent default endpoint"] == "ok"


def test_binary_key_is_what_doctor_checks_and_a_missing_one_is_not_replaced_by_path(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    write_program(tmp_path / "bin" / "claude", "1.0.0 (the one on PATH)")
    elsewhere = write_program(tmp_path / "opt" / "my-claude", "2.1.332 (Claude Code, elsewhere)")
    env = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    init(repo, env, f"agents:\n  default:\n    tool: claude\n    binary: {elsewhere}\n")
    ok = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert ok.code == 0, ok.stderr
    detail = str(checks_of(ok)["agent default"]["detail"])
    assert "elsewhere" in detail and "agents.default.binary" in detail
    elsewhere.unlink()
    missing = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert missing.code == 5
    check = checks_of(missing)["agent default"]
    assert check["status"] == "fail" and str(elsewhere) in str(check["detail"])


def test_an_agent_no_workflow_uses_only_warns(repo: Path, env: dict[str, str], tmp_path: Path) -> None:
    write_program(tmp_path / "bin" / "claude", "2.1.332 (Claude Code)")
    env = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"}
    init(repo, env, "agents:\n  default:\n    tool: claude\n  scripted:\n    tool: scripted\n  spare:\n    tool: gemini\n")
    result = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert result.code == 0, result.stderr
    spare = checks_of(result)["agent spare"]
    assert spare["status"] == "warn" and spare["required"] is False
    assert "animus agents install gemini" in str(spare["remedy"])


def test_an_invalid_config_exits_2_not_internal(repo: Path, env: dict[str, str]) -> None:
    init(repo, env)
    (repo / ".animus" / "workflows.yaml").write_text("default_workflow: standard\nagents: {a: {tool: nope}}\n")
    result = run_animus(["doctor", "--json"], cwd=repo, env=env)
    assert result.code == 2, result.stderr
    assert checks_of(result)["config"]["status"] == "fail"


def test_a_workflow_opening_pull_requests_needs_a_github_token_that_doctor_never_shows(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    write_program(tmp_path / "bin" / "claude", "2.1.332 (Claude Code)")
    env = {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}", "GITHUB_TOKEN": ""}
    init(repo, env)
    path = repo / ".animus" / "workflows.yaml"
    path.write_text(path.read_text().replace("create_pr: false", "create_pr: true"))
    missing = run_animus(["doctor", "--json"], cwd=repo, env=env)  # no token, no gh on PATH
    assert missing.code == 5, missing.stderr
    check = checks_of(missing)["github token"]
    assert check["status"] == "fail" and "$GITHUB_TOKEN is not set" in str(check["detail"])
    assert "GITHUB_TOKEN" in str(check["remedy"])
    found = run_animus(["doctor", "--json"], cwd=repo, env={**env, "GITHUB_TOKEN": "ghp_secret_value"})
    assert found.code == 0, found.stderr
    assert checks_of(found)["github token"]["status"] == "ok"
    assert "$GITHUB_TOKEN" in str(checks_of(found)["github token"]["detail"])
    human = run_animus(["doctor"], cwd=repo, env={**env, "GITHUB_TOKEN": "ghp_secret_value"})
    assert "ghp_secret_value" not in found.stdout + found.stderr + human.stdout + human.stderr


def test_an_acp_agent_is_found_on_path_or_as_a_pinned_cli_in_the_install_cache(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    from animus.agents import pinned_clis

    pin = pinned_clis()["gemini"]
    cache = tmp_path / "cache"
    write_program(cache / f"gemini-{pin.version}" / "node_modules" / ".bin" / "gemini", f"{pin.version} (the cached one)")
    (cache / f"gemini-{pin.version}" / ".animus-installed").write_text(f"{pin.package}@{pin.version}\n")
    env = {**env, "ANIMUS_CLI_CACHE": str(cache)}
    init(repo, env, "agents:\n  default:\n    tool: acp\n    command: [gemini, --acp]\n"
                    "  lost:\n    tool: acp\n    command: [no-such-acp-agent]\n")
    result = run_animus(["doctor", "--json"], cwd=repo, env=env)
    checks = checks_of(result)
    assert result.code == 0, result.stdout
    gem = checks["agent default"]
    assert gem["status"] == "ok" and "the cached one" in str(gem["detail"]) and "tool acp" in str(gem["detail"])
    lost = checks["agent lost"]
    assert lost["status"] == "warn" and "'no-such-acp-agent' not found" in str(lost["detail"])

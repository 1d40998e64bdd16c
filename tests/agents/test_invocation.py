"""argv/env construction per tool: sessions and resume, base_url/api_key_env, root + bypass, isolated homes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from animus.agents import AgentProfile, McpServer, SessionPlan, get_adapter
from animus.domain.errors import InvalidInput

ENV = {"PATH": "/usr/bin", "GW_KEY": "sk-gateway-123456"}


def build(tool: str, tmp_path: Path, session: SessionPlan | None = None, environ: dict[str, str] | None = None,
          **fields: object):
    profile = AgentProfile(tool=tool, **fields)  # type: ignore[arg-type]
    return get_adapter(tool).build_invocation(
        profile, "fix the bug", cwd=tmp_path, session=session, state_dir=tmp_path / "state",
        environ=ENV if environ is None else environ,
    )


def test_claude_new_session_argv_has_stream_json_permissions_tools_and_extra_args_last(tmp_path: Path) -> None:
    inv = build("claude", tmp_path, SessionPlan(id="0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b"), model="opus",
                system_prompt="Be brief.", extra_args=["--max-turns", "30"])
    assert inv.argv[:3] == ["claude", "-p", "fix the bug"]
    a = inv.argv
    assert a[a.index("--permission-mode") + 1] == "acceptEdits"
    i = a.index("--allowedTools")
    assert a[i + 1 : i + 7] == ["Read", "Edit", "Write", "Bash", "Glob", "Grep"] and a[i + 7].startswith("--")
    assert a[a.index("--output-format") + 1] == "stream-json" and "--verbose" in a
    assert a[a.index("--session-id") + 1] == "0b5d8f7e-2f0a-4c55-9e67-0e7d9f1c2a3b" and "--resume" not in a
    assert a[a.index("--model") + 1] == "opus" and a[a.index("--append-system-prompt") + 1] == "Be brief."
    assert a[-2:] == ["--max-turns", "30"]
    assert inv.stdin is None


def test_claude_resume_uses_resume_flag(tmp_path: Path) -> None:
    a = build("claude", tmp_path, SessionPlan.resume_of("abc")).argv
    assert a[a.index("--resume") + 1] == "abc" and "--session-id" not in a


def test_claude_mcp_servers_go_to_a_strict_config_file(tmp_path: Path) -> None:
    inv = build("claude", tmp_path, mcp_servers=[McpServer("animus", ["animus", "mcp", "serve"], {"X": "1"})])
    path = Path(inv.argv[inv.argv.index("--mcp-config") + 1])
    assert "--strict-mcp-config" in inv.argv
    assert json.loads(inv.files_to_write[path]) == {
        "mcpServers": {"animus": {"command": "animus", "args": ["mcp", "serve"], "env": {"X": "1"}}}}


def test_claude_base_url_and_api_key_env_map_to_anthropic_env(tmp_path: Path) -> None:
    inv = build("claude", tmp_path, base_url="http://127.0.0.1:9999", api_key_env="GW_KEY")
    assert inv.env_extra["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9999"
    assert inv.env_extra["ANTHROPIC_API_KEY"] == "sk-gateway-123456"
    assert "sk-gateway-123456" not in " ".join(inv.argv)


def test_api_key_env_naming_an_unset_variable_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="NOPE_KEY"):
        build("claude", tmp_path, api_key_env="NOPE_KEY")


@pytest.mark.skipif(os.geteuid() != 0, reason="the root rule only applies when running as root")
def test_bypass_permissions_as_root_without_is_sandbox_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="root"):
        build("claude", tmp_path, permission_mode="bypassPermissions")
    inv = build("claude", tmp_path, permission_mode="bypassPermissions", environ={**ENV, "IS_SANDBOX": "1"})
    assert inv.env_extra["IS_SANDBOX"] == "1"


def test_unknown_permission_mode_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="permission_mode"):
        build("claude", tmp_path, permission_mode="yolo")


@pytest.mark.parametrize(
    ("tool", "var"),
    [("claude", "CLAUDE_CONFIG_DIR"), ("codex", "CODEX_HOME"), ("gemini", "GEMINI_CLI_HOME"),
     ("opencode", "XDG_CONFIG_HOME")],
)
def test_isolate_home_points_each_cli_at_its_own_dir_under_the_state_dir(tmp_path: Path, tool: str, var: str) -> None:
    inv = build(tool, tmp_path)
    home = tmp_path / "state" / "agent-homes" / tool
    assert inv.env_extra[var].startswith(str(home))
    assert any(str(d).startswith(str(home)) for d in inv.dirs_to_create)
    assert var not in build(tool, tmp_path, isolate_home=False).env_extra


def test_codex_argv_and_resume_order(tmp_path: Path) -> None:
    a = build("codex", tmp_path, model="gpt-5-codex").argv
    assert a == ["codex", "exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check", "-m",
                 "gpt-5-codex", "fix the bug"]
    r = build("codex", tmp_path, SessionPlan.resume_of("0199a213-81c0")).argv
    assert r[-3:] == ["resume", "0199a213-81c0", "fix the bug"] and r[:3] == ["codex", "exec", "--json"]


def test_codex_base_url_becomes_a_custom_provider_and_the_key_travels_in_env(tmp_path: Path) -> None:
    inv = build("codex", tmp_path, base_url="http://127.0.0.1:9/v1", api_key_env="GW_KEY")
    configs = [inv.argv[i + 1] for i, x in enumerate(inv.argv) if x == "-c"]
    assert configs == [
        'model_providers.animus={name="animus",base_url="http://127.0.0.1:9/v1",wire_api="responses",env_key="GW_KEY"}',
        "model_provider=animus",
    ]
    assert inv.env_extra["GW_KEY"] == "sk-gateway-123456"


def test_codex_waits_for_every_mcp_server_it_is_given(tmp_path: Path) -> None:
    # An optional server that is not up yet is left out of the turn; a required one is waited for.
    servers = [McpServer("animus", ["animus", "mcp", "serve"]), McpServer("docs", ["docs-mcp"])]
    argv = build("codex", tmp_path, mcp_servers=servers).argv
    assert "mcp_servers.animus.required=true" in argv and "mcp_servers.docs.required=true" in argv


def test_gemini_argv_base_url_settings_file_and_model_requirement(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="model"):
        build("gemini", tmp_path, base_url="http://127.0.0.1:9")
    inv = build("gemini", tmp_path, SessionPlan.resume_of("3"), base_url="http://127.0.0.1:9", api_key_env="GW_KEY",
                model="gemini-2.5-pro")
    a = inv.argv
    assert a[:3] == ["gemini", "-p", "fix the bug"]
    assert a[a.index("--output-format") + 1] == "stream-json" and a[a.index("--approval-mode") + 1] == "yolo"
    assert a[a.index("-m") + 1] == "gemini-2.5-pro" and a[a.index("--resume") + 1] == "3"
    env = inv.env_extra
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:9" and env["GEMINI_API_KEY"] == "sk-gateway-123456"
    # gemini skips a GEMINI_CLI_SYSTEM_SETTINGS_PATH file unless root owns it and every parent: use the user file.
    assert "GEMINI_CLI_SYSTEM_SETTINGS_PATH" not in env
    home = tmp_path / "state/agent-homes/gemini"
    assert env["GEMINI_CLI_HOME"] == str(home) and env["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    settings = json.loads(inv.files_to_write[home / ".gemini/settings.json"])
    assert settings["security"]["auth"] == {"selectedType": "gemini-api-key"}
    trusted = inv.files_to_write[home / ".gemini/trustedFolders.json"]
    assert json.loads(trusted) == {str(tmp_path): "TRUST_FOLDER"}


def test_gemini_mcp_servers_go_to_the_isolated_user_settings_and_need_an_isolated_home(tmp_path: Path) -> None:
    server = McpServer("animus", ["animus", "mcp", "serve"], {"X": "1"})
    inv = build("gemini", tmp_path, mcp_servers=[server])
    settings = json.loads(inv.files_to_write[tmp_path / "state/agent-homes/gemini/.gemini/settings.json"])
    # animus's own server is trusted (no confirmation prompt); other ids keep gemini's default
    assert settings["mcpServers"] == {
        "animus": {"command": "animus", "args": ["mcp", "serve"], "env": {"X": "1"}, "trust": True}
    }
    assert "auth" not in settings["security"]  # no key, no base_url: gemini keeps its own auth choice
    with pytest.raises(InvalidInput, match="isolate_home"):
        build("gemini", tmp_path, mcp_servers=[server], isolate_home=False)


def test_gemini_without_isolated_home_writes_no_file_but_still_trusts_the_workspace(tmp_path: Path) -> None:
    inv = build("gemini", tmp_path, isolate_home=False, base_url="http://127.0.0.1:9", api_key_env="GW_KEY",
                model="gemini-2.5-pro")
    assert inv.files_to_write == {} and inv.dirs_to_create == []
    assert inv.env_extra["GEMINI_CLI_TRUST_WORKSPACE"] == "true" and "GEMINI_CLI_HOME" not in inv.env_extra
    kept = build("gemini", tmp_path, env={"GEMINI_CLI_TRUST_WORKSPACE": "false"})
    assert kept.env_extra["GEMINI_CLI_TRUST_WORKSPACE"] == "false"  # the profile env wins


def test_claude_retries_of_the_cli_itself_are_capped_unless_the_env_says_otherwise(tmp_path: Path) -> None:
    assert build("claude", tmp_path).env_extra["CLAUDE_CODE_MAX_RETRIES"] == "2"
    profile_set = build("claude", tmp_path, env={"CLAUDE_CODE_MAX_RETRIES": "0"})
    assert profile_set.env_extra["CLAUDE_CODE_MAX_RETRIES"] == "0"
    caller_set = build("claude", tmp_path, environ={**ENV, "CLAUDE_CODE_MAX_RETRIES": "7"})
    assert caller_set.env_extra["CLAUDE_CODE_MAX_RETRIES"] == "7"


def test_opencode_argv_session_and_provider_config(tmp_path: Path) -> None:
    inv = build("opencode", tmp_path, SessionPlan.resume_of("ses_1"), base_url="http://gw/v1", api_key_env="GW_KEY",
                model="qwen3")
    assert inv.argv == ["opencode", "run", "--format", "json", "-m", "animus/qwen3", "--session", "ses_1",
                        "fix the bug"]
    config = json.loads(inv.env_extra["OPENCODE_CONFIG_CONTENT"])
    assert config["provider"]["animus"]["options"] == {"baseURL": "http://gw/v1", "apiKey": "{env:GW_KEY}"}
    assert inv.env_extra["GW_KEY"] == "sk-gateway-123456"


def test_aider_argv_is_scripting_mode_without_auto_commits(tmp_path: Path) -> None:
    inv = build("aider", tmp_path, model="gpt-4o")
    assert inv.argv == [
        "aider", "--message", "fix the bug", "--yes-always", "--no-auto-commits", "--no-pretty", "--no-stream",
        "--analytics-disable", "--no-check-update", "--no-gitignore", "--no-show-model-warnings",
        "--no-show-release-notes", "--model", "gpt-4o"]
    assert inv.env_extra["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"  # no price-list download at start-up


def test_command_substitutes_the_prompt_as_a_whole_element_only(tmp_path: Path) -> None:
    inv = build("command", tmp_path, command=["./agent.sh", "--task", "{prompt}", "x{prompt}"])
    assert inv.argv == ["./agent.sh", "--task", "fix the bug", "x{prompt}"]
    with pytest.raises(InvalidInput):
        build("command", tmp_path)


def test_scripted_runs_the_fake_as_claude_with_the_profile_script(tmp_path: Path) -> None:
    inv = build("scripted", tmp_path, script=str(tmp_path / "s.json"))
    assert inv.argv[1:5] == ["-m", "animus.agents.fake", "--as", "claude"]
    assert inv.env_extra["ANIMUS_FAKE_SCRIPT"] == str(tmp_path / "s.json")


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "opencode", "aider"])
def test_a_prompt_starting_with_a_dash_is_never_read_as_a_flag_and_stdin_is_closed(tmp_path: Path, tool: str) -> None:
    inv = get_adapter(tool).build_invocation(AgentProfile(tool=tool), "--help me", cwd=tmp_path,
                                             state_dir=tmp_path, environ=ENV)
    assert " --help me" in inv.argv and "--help me" not in inv.argv
    assert inv.stdin is None


def test_unknown_tool_is_invalid_input_listing_the_choices() -> None:
    with pytest.raises(InvalidInput, match="claude, codex"):
        get_adapter("vim")


# -- read-only phases (issue 11): the CLI gets no write tools -------------------------------------------


@pytest.mark.parametrize("mode", ["acceptEdits", "bypassPermissions"])
def test_claude_read_only_disallows_write_tools_and_bash_beyond_gits_reading_commands(tmp_path: Path, mode: str) -> None:
    a = build("claude", tmp_path, permission_mode=mode, read_only=True, environ={**ENV, "IS_SANDBOX": "1"}).argv
    assert a[a.index("--permission-mode") + 1] == "default"  # what no rule allows is denied, headless
    i = a.index("--allowedTools")
    allowed = a[i + 1 : a.index("--disallowedTools")]
    assert allowed == ["Read", "Glob", "Grep", "Bash(git diff:*)", "Bash(git log:*)", "Bash(git show:*)", "Bash(git status:*)"]
    j = a.index("--disallowedTools")
    assert a[j + 1 : j + 5] == ["Edit", "Write", "MultiEdit", "NotebookEdit"] and a[j + 5].startswith("--")


def test_claude_without_read_only_has_no_disallowed_tools(tmp_path: Path) -> None:
    assert "--disallowedTools" not in build("claude", tmp_path).argv


def test_codex_read_only_runs_in_the_read_only_sandbox(tmp_path: Path) -> None:
    a = build("codex", tmp_path, read_only=True).argv
    assert a[a.index("--sandbox") + 1] == "read-only"
    b = build("codex", tmp_path).argv
    assert b[b.index("--sandbox") + 1] == "workspace-write"


def test_gemini_read_only_uses_plan_approval_mode(tmp_path: Path) -> None:
    a = build("gemini", tmp_path, read_only=True).argv
    assert a[a.index("--approval-mode") + 1] == "plan"
    b = build("gemini", tmp_path).argv
    assert b[b.index("--approval-mode") + 1] == "yolo"


def test_opencode_read_only_uses_the_plan_agent_and_denies_edits_and_bash(tmp_path: Path) -> None:
    inv = build("opencode", tmp_path, read_only=True)
    assert inv.argv[inv.argv.index("--agent") + 1] == "plan"
    permission = json.loads(inv.env_extra["OPENCODE_CONFIG_CONTENT"])["permission"]
    assert permission["edit"] == "deny"
    assert permission["bash"]["*"] == "deny" and permission["bash"]["git diff*"] == "allow"
    plain = build("opencode", tmp_path)
    assert "--agent" not in plain.argv
    assert json.loads(plain.env_extra["OPENCODE_CONFIG_CONTENT"])["permission"]["edit"] == "allow"

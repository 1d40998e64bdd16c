"""The agent environment allowlist, and secrets that never reach the run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from animus.procs import build_env, is_secret_name, launch, redact


def test_build_env_keeps_the_allowlist_and_the_extra_only() -> None:
    base = {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "XDG_CONFIG_HOME": "/x",
        "ANTHROPIC_API_KEY": "k" * 8,
        "AZURE_OPENAI_ENDPOINT": "e",
        "AWS_SECRET_ACCESS_KEY": "nope",
        "PYTHONPATH": "/p",
        "CLAUDECODE": "1",
        "CLAUDE_CONFIG_DIR": "/c",
    }
    env = build_env(base, {"MY_AGENT_FLAG": "on", "CLAUDECODE": "1"})
    assert env == {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "XDG_CONFIG_HOME": "/x",
        "ANTHROPIC_API_KEY": "k" * 8,
        "AZURE_OPENAI_ENDPOINT": "e",
        "CLAUDE_CONFIG_DIR": "/c",
        "MY_AGENT_FLAG": "on",
    }


def test_is_secret_name_by_suffix() -> None:
    assert all(map(is_secret_name, ["FOO_API_KEY", "GH_TOKEN", "app_secret", "DB_PASSWORD"]))
    assert not any(map(is_secret_name, ["KEYBOARD", "TOKENS", "PATH", "SECRETARY_NAME"]))


def test_redact_masks_long_secret_values_only() -> None:
    env = {"FOO_API_KEY": "value123456", "SHORT_TOKEN": "abc", "PLAIN": "value123456x"}
    assert redact("key=value123456 short=abc", env) == "key=*** short=abc"
    assert redact("nothing here", {}) == "nothing here"


def test_secret_values_never_reach_the_run_directory(runs_dir: Path, make_spec: Any) -> None:
    secret = "value123456"
    code = "import os, sys; print(os.environ['FOO_API_KEY'] == sys.argv[1])"
    spec = make_spec("secret", code, env=build_env({}, {"FOO_API_KEY": secret, "PATH": "/usr/bin:/bin"}))
    spec = type(spec)(**{**spec.__dict__, "argv": [*spec.argv, secret]})
    handle = launch(spec, runs_dir)
    assert handle.wait(10).ok
    assert [line for line, _ in handle.follow()] == [b"True\n"]
    stored = json.loads((handle.dir / "spec.json").read_text())
    assert "FOO_API_KEY" in stored["env_names"]
    assert stored["argv"][-1] == "***"
    for name in ("spec.json", "pid.json", "exit.json", "supervisor.log"):
        assert secret.encode() not in (handle.dir / name).read_bytes(), name


def test_database_urls_count_as_secrets_because_they_carry_passwords() -> None:
    from animus.procs import is_secret_name, redact

    assert is_secret_name("ANIMUS_DATABASE_URL") and is_secret_name("PG_DSN")
    assert not is_secret_name("ANTHROPIC_BASE_URL")
    env = {"ANIMUS_DATABASE_URL": "postgresql://animus:hunter2-pw@db/animus"}
    assert redact("connecting to postgresql://animus:hunter2-pw@db/animus", env) == "connecting to ***"

"""The environment agents inherit, animus's virtualenv off it, and secrets that never reach the run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from animus.procs import build_env, is_secret_name, launch, redact, without_own_venv

BASE = {
    "PATH": "/bin",
    "HOME": "/h",
    "LC_ALL": "C",
    "XDG_CONFIG_HOME": "/x",
    "ANTHROPIC_API_KEY": "k" * 8,
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "JAVA_HOME": "/opt/jdk",
    "HTTPS_PROXY": "http://proxy:3128",
    "SSH_AUTH_SOCK": "/tmp/ssh.sock",
    "ANIMUS_DATABASE_URL": "postgresql://u:pw@db/animus",
    "ANIMUS_HOME": "/state",
    "CLAUDECODE": "1",
}


def test_build_env_passes_the_users_environment_minus_animus_own_variables() -> None:
    env = build_env(BASE, {"MY_AGENT_FLAG": "on", "CLAUDECODE": "1"})
    assert env == {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "XDG_CONFIG_HOME": "/x",
        "ANTHROPIC_API_KEY": "k" * 8,
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "JAVA_HOME": "/opt/jdk",
        "HTTPS_PROXY": "http://proxy:3128",
        "SSH_AUTH_SOCK": "/tmp/ssh.sock",
        "MY_AGENT_FLAG": "on",
    }


def test_env_inherit_none_keeps_only_what_a_process_needs_to_start() -> None:
    assert build_env(BASE, {"X": "1"}, inherit="none") == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "X": "1"}


def test_env_inherit_names_and_globs_add_to_the_basics_but_never_animus_own() -> None:
    env = build_env(BASE, {}, inherit=("JAVA_HOME", "AWS_*", "ANIMUS_*", "*_PROXY"))
    assert env == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "JAVA_HOME": "/opt/jdk",
                   "AWS_SECRET_ACCESS_KEY": "aws-secret", "HTTPS_PROXY": "http://proxy:3128"}


def test_animus_own_virtualenv_leaves_path_and_virtual_env(tmp_path: Path) -> None:
    venv = tmp_path / "animus-venv"
    base = {"PATH": f"{venv}/bin:/usr/local/bin:{sys.prefix}/bin:/usr/bin", "VIRTUAL_ENV": str(venv), "HOME": "/h"}
    for env in (build_env(base, {}), without_own_venv(base)):
        assert env["PATH"] == "/usr/local/bin:/usr/bin"
        assert "VIRTUAL_ENV" not in env


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


def test_a_url_with_a_password_is_masked_whatever_its_name() -> None:
    env = {"HTTPS_PROXY": "http://me:s3cret-pw@proxy:3128", "NO_PROXY": "localhost,127.0.0.1"}
    assert redact("via http://me:s3cret-pw@proxy:3128 except localhost,127.0.0.1", env) == (
        "via *** except localhost,127.0.0.1"
    )

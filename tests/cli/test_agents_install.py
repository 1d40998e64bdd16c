"""`animus agents install` against a fake npm that records its argv, and the adapters finding what it installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from animus.agents import pinned_clis
from animus.agents.fake import CONSOLE_SCRIPT
from support.cli import run_animus

REPO_ROOT = Path(__file__).resolve().parents[2]

# A real program standing in for npm: logs argv, then lays out <prefix>/node_modules/.bin/<binary>
# as a link to the fake agent CLI (or fails when FAKE_NPM_FAIL is set).
FAKE_NPM = """#!{python}
import json, os, sys
from pathlib import Path
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_NPM_FAIL"):
    print("npm error code E404", file=sys.stderr)
    sys.exit(1)
args = sys.argv[1:]
prefix = Path(args[args.index("--prefix") + 1])
binary = {{"@anthropic-ai/claude-code": "claude", "@openai/codex": "codex", "@google/gemini-cli": "gemini"}}[
    args[-1].rsplit("@", 1)[0]]
bin_dir = prefix / "node_modules" / ".bin"
bin_dir.mkdir(parents=True, exist_ok=True)
(bin_dir / binary).symlink_to({fake_agent!r})
"""
FAKE_NODE = "#!{python}\nimport sys\nprint('22' if 'split' in sys.argv[-1] else '22.3.0')\n"


def _program(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    fake_agent = shutil.which(CONSOLE_SCRIPT, path=str(Path(sys.executable).parent))
    assert fake_agent, "the fake agent console script is installed with animus"
    bin_dir = tmp_path / "npm-bin"
    bin_dir.mkdir()
    _program(bin_dir / "npm", FAKE_NPM.format(python=sys.executable, fake_agent=fake_agent))
    _program(bin_dir / "node", FAKE_NODE.format(python=sys.executable))
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")  # git only: never the real npm
    return {"PATH": str(bin_dir), "ANIMUS_CLI_CACHE": str(tmp_path / "cache"),
            "FAKE_NPM_LOG": str(tmp_path / "npm.log")}


def npm_calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_NPM_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_install_runs_npm_with_the_pinned_version_into_the_cache_and_stamps_it(tmp_path: Path, env: dict[str, str]) -> None:
    pin = pinned_clis()["claude"]
    result = run_animus(["agents", "install", "claude", "--json"], cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    target = Path(env["ANIMUS_CLI_CACHE"]) / f"claude-{pin.version}"
    assert npm_calls(env) == [["install", "--prefix", str(target), "--no-audit", "--no-fund", "--include=optional",
                               "--loglevel=error", f"{pin.package}@{pin.version}"]]
    data = result.json()
    assert data["binary"] == str(target / "node_modules" / ".bin" / "claude") and data["fresh"] is True
    assert (target / ".animus-installed").read_text() == f"{pin.package}@{pin.version}\n"
    assert f"installing {pin.package}@{pin.version}" in result.stderr  # progress goes to stderr
    again = run_animus(["agents", "install", "claude"], cwd=tmp_path, env=env)
    assert again.code == 0 and len(npm_calls(env)) == 1, "an installed CLI is not installed twice"
    assert "already installed" in again.stderr and str(target) in again.stdout


def test_install_version_flag_picks_the_version_and_its_own_directory(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_animus(["agents", "install", "gemini", "--version", "0.1.2", "--json"], cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert npm_calls(env)[0][-1] == "@google/gemini-cli@0.1.2"
    assert (Path(env["ANIMUS_CLI_CACHE"]) / "gemini-0.1.2" / ".animus-installed").is_file()


def test_npm_failing_exits_5_and_stamps_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_animus(["agents", "install", "codex", "--json"], cwd=tmp_path, env={**env, "FAKE_NPM_FAIL": "1"})
    assert result.code == 5 and "E404" in result.error()["message"]
    assert not list(Path(env["ANIMUS_CLI_CACHE"]).glob("*/.animus-installed"))


def test_without_npm_it_exits_5_and_says_to_install_node(tmp_path: Path, env: dict[str, str]) -> None:
    (Path(env["PATH"]) / "npm").unlink()
    result = run_animus(["agents", "install", "claude", "--json"], cwd=tmp_path, env=env)
    assert result.code == 5 and "Node.js" in result.error()["hint"]


def test_an_unknown_tool_or_bad_version_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    assert run_animus(["agents", "install", "cursor"], cwd=tmp_path, env=env).code == 2
    assert run_animus(["agents", "install", "claude", "--version", "../x"], cwd=tmp_path, env=env).code == 2
    assert npm_calls(env) == []


def test_an_installed_cli_off_path_is_what_agent_run_launches(tmp_path: Path, env: dict[str, str]) -> None:
    assert run_animus(["agents", "install", "claude"], cwd=tmp_path, env=env).code == 0
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    result = run_animus(["agent", "run", "--tool", "claude", "--prompt", "hi"], cwd=repo,
                        env={**env, "ANIMUS_HOME": str(tmp_path / "home")})
    assert result.code == 0, result.stderr
    assert "outcome: ok" in result.stdout
    without = run_animus(["agent", "run", "--tool", "claude", "--prompt", "hi"], cwd=repo,
                         env={**env, "ANIMUS_HOME": str(tmp_path / "home"), "ANIMUS_CLI_CACHE": str(tmp_path / "none")})
    assert without.code == 5 and "animus agents install claude" in without.stderr


def test_the_install_script_reads_the_same_pins(tmp_path: Path, env: dict[str, str]) -> None:
    tools = tmp_path / "shell-tools"  # what the script itself needs, and still no real npm
    tools.mkdir()
    for name in ("bash", "sed", "awk", "mkdir", "rm", "dirname"):
        (tools / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    env = {**env, "PATH": f"{env['PATH']}{os.pathsep}{tools}"}
    proc = subprocess.run([str(REPO_ROOT / "scripts" / "install-agent-clis"), "codex"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pin = pinned_clis()["codex"]
    target = Path(env["ANIMUS_CLI_CACHE"]) / f"codex-{pin.version}"
    assert proc.stdout.strip() == f"codex={target}/node_modules/.bin/codex"
    assert npm_calls(env)[0][-1] == f"{pin.package}@{pin.version}"


# A real program standing in for a Python: `-m venv DIR` copies itself to DIR/bin/python; that copy's
# `-m pip install aider-chat==V` logs its argv and links DIR/bin/aider to the fake agent (or fails).
FAKE_PYTHON = """#!{python}
import json, os, shutil, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(json.dumps(["python", *args]) + "\\n")
if args[:2] == ["-m", "venv"]:
    (Path(args[2]) / "bin").mkdir(parents=True)
    shutil.copy(__file__, Path(args[2]) / "bin" / "python")
elif args[:3] == ["-m", "pip", "install"]:
    if os.environ.get("FAKE_PIP_FAIL"):
        print("ERROR: No matching distribution found for " + args[-1], file=sys.stderr)
        sys.exit(1)
    (Path(__file__).parent / "aider").symlink_to({fake_agent!r})
"""


def test_aider_installs_into_a_venv_of_its_own_by_pip_and_is_found_off_path(tmp_path: Path, env: dict[str, str]) -> None:
    fake_agent = shutil.which(CONSOLE_SCRIPT, path=str(Path(sys.executable).parent))
    python = tmp_path / "fake-python"
    _program(python, FAKE_PYTHON.format(python=sys.executable, fake_agent=fake_agent))
    env = {**env, "ANIMUS_PYTHON": str(python)}
    pin = pinned_clis()["aider"]
    assert (pin.package, pin.binary_in(Path("d"))) == ("pypi:aider-chat", Path("d/venv/bin/aider"))

    failed = run_animus(["agents", "install", "aider", "--json"], cwd=tmp_path, env={**env, "FAKE_PIP_FAIL": "1"})
    assert failed.code == 5 and "No matching distribution" in failed.error()["message"]
    assert not list(Path(env["ANIMUS_CLI_CACHE"]).glob("*/.animus-installed"))

    result = run_animus(["agents", "install", "aider", "--json"], cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)["data"]
    directory = Path(env["ANIMUS_CLI_CACHE"]) / f"aider-{pin.version}"
    assert data["binary"] == str(directory / "venv" / "bin" / "aider") and data["fresh"] is True
    assert (directory / ".animus-installed").read_text() == f"pypi:aider-chat@{pin.version}\n"
    pip = [c for c in npm_calls(env) if c[1:4] == ["-m", "pip", "install"]]
    assert pip[-1][-1] == f"aider-chat=={pin.version}"
    assert not [c for c in npm_calls(env) if c[0] != "python"]  # never npm
    again = run_animus(["agents", "install", "aider", "--json"], cwd=tmp_path, env=env)
    assert again.code == 0 and json.loads(again.stdout)["data"]["fresh"] is False

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    run = run_animus(["agent", "run", "--tool", "aider", "--prompt", "hi"], cwd=repo,
                     env={**env, "ANIMUS_HOME": str(tmp_path / "home")})
    assert run.code == 0 and "outcome: ok" in run.stdout, run.stdout + run.stderr


def test_the_install_script_puts_aider_in_a_venv_of_its_own_without_npm(tmp_path: Path, env: dict[str, str]) -> None:
    fake_agent = shutil.which(CONSOLE_SCRIPT, path=str(Path(sys.executable).parent))
    python = tmp_path / "fake-python"
    _program(python, FAKE_PYTHON.format(python=sys.executable, fake_agent=fake_agent))
    tools = tmp_path / "shell-tools"
    tools.mkdir()
    for name in ("bash", "sed", "awk", "mkdir", "rm", "dirname"):
        (tools / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    (Path(env["PATH"]) / "npm").unlink()  # aider needs no Node.js
    env = {**env, "PATH": f"{env['PATH']}{os.pathsep}{tools}", "ANIMUS_PYTHON": str(python)}
    proc = subprocess.run([str(REPO_ROOT / "scripts" / "install-agent-clis"), "aider"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pin = pinned_clis()["aider"]
    target = Path(env["ANIMUS_CLI_CACHE"]) / f"aider-{pin.version}"
    assert proc.stdout.strip() == f"aider={target}/venv/bin/aider"
    assert (target / ".animus-installed").read_text() == f"pypi:aider-chat@{pin.version}\n"
    assert [c for c in npm_calls(env) if c[1:4] == ["-m", "pip", "install"]][-1][-1] == f"aider-chat=={pin.version}"

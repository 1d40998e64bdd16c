"""The README's "Quick start in your own repository", run command by command in a fresh Python project."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import REPO_ROOT, isolated_env, require_cli

pytestmark = pytest.mark.realcli

CALC = '"""Small arithmetic for the quick-start project."""\n\n\ndef add(a, b):\n    return a + b\n'
MUL = "\n\ndef mul(a, b):\n    return a * b\n"
TEST_CALC = """\
from calc_cases import MUL_CASES

import calc


def test_add():
    assert calc.add(2, 3) == 5


def test_mul():
    for a, b, product in MUL_CASES:
        assert calc.mul(a, b) == product
"""
# A test dependency of the project, installed in ITS environment only: the `tests` phase passes only
# when it runs with the project's python, not animus's (which has pytest too) nor the system's.
CALC_CASES = "MUL_CASES = [(2, 3, 6), (4, 0, 0), (-2, 5, -10)]\n"


def quick_start_commands() -> list[list[str]]:
    """The README's quick start block, one argv per line (comments dropped)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start in your own repository", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: the quick start has no ```sh block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.split("#")[0].strip()]


def _project(root: Path) -> Path:
    """A fresh Python project: a git repo on `main` whose pytest suite fails until calc.mul exists."""
    project = root / "my-service"
    (project / "tests").mkdir(parents=True)
    (project / "calc.py").write_text(CALC)
    (project / "tests" / "test_calc.py").write_text(TEST_CALC)
    (project / ".gitignore").write_text("__pycache__/\n")
    git = ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "calc with add"], cwd=project, check=True)
    return project


def _project_venv(root: Path) -> Path:
    """The project's own virtualenv with pytest (from pip's cache) and its test dependency calc_cases."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # animus's pip installs into the project's venv (--python): a pip-less venv is made in a second.
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--disable-pip-version-check",
            "pytest",
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, f"could not install pytest into the project's venv:\n{pip.stderr[-2000:]}"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "calc_cases.py").write_text(CALC_CASES)
    return venv


def _user_path(venv: Path, bin_dir: Path) -> str:
    """A user's PATH: the project's venv first, then the launcher and `claude`; never animus's .venv/bin."""
    animus_venv_bin = str(REPO_ROOT / ".venv" / "bin")
    inherited = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and p != animus_venv_bin]
    return os.pathsep.join([str(venv / "bin"), str(bin_dir), str(require_cli("claude").parent), *inherited])


def _sh(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{shlex.join(argv)}` did not finish within {timeout}s: {exc}")
    return proc


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"`{shlex.join(proc.args)}` exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(_ok(proc))["data"]


def _point_default_agent_at(config: Path, base_url: str) -> None:
    """What the README tells a user without a logged-in `claude`: give the agent a base_url and api_key_env."""
    text = config.read_text(encoding="utf-8")
    for commented in ("# api_key_env: ANTHROPIC_API_KEY", "# base_url: http://127.0.0.1:8080"):
        assert commented in text, f"the template no longer offers {commented!r}"
    text = text.replace("# api_key_env: ANTHROPIC_API_KEY", "api_key_env: ANTHROPIC_API_KEY", 1)
    text = text.replace("# base_url: http://127.0.0.1:8080", f"base_url: {base_url}", 1)
    config.write_text(text, encoding="utf-8")


def test_readme_quick_start_lands_the_first_task_with_real_claude_and_the_projects_own_pytest(
    tmp_path: Path, model_endpoint: ModelEndpoint
) -> None:
    commands = quick_start_commands()
    assert [argv[:2] for argv in commands] == [
        ["./run", "install"],
        ["cd", "~/src/my-service"],
        ["animus", "init"],
        ["animus", "config"],
        ["animus", "task"],
        ["animus", "run"],
    ], "the README's quick start changed: update this test to follow it"
    project, venv, bin_dir = _project(tmp_path), _project_venv(tmp_path), tmp_path / "bin"
    env = isolated_env(tmp_path, ANTHROPIC_API_KEY="test-key", PATH=_user_path(venv, bin_dir))
    # Claude Code's Edit refuses a file it has not Read in the same session; paths are relative to the
    # task's worktree, which is where animus starts the agent.
    model_endpoint.script(
        "anthropic",
        [
            Turn.tool("Read", {"file_path": "calc.py"}),
            Turn.tool(
                "Edit",
                {"file_path": "calc.py", "old_string": "    return a + b\n", "new_string": "    return a + b\n" + MUL},
            ),
            Turn.final("advance", reason="added calc.mul"),  # implementation
            Turn.final("advance", reason="mul is correct and tested"),  # review (read-only)
        ],
    )

    outputs: dict[str, str] = {}
    for argv in commands:
        if argv[0] == "./run":
            outputs["install"] = _ok(_sh(argv, REPO_ROOT, {**env, "ANIMUS_BIN_DIR": str(bin_dir)}, timeout=300))
            continue
        if argv[0] == "cd":
            continue  # into the fresh project: every later command runs there
        outputs[argv[1]] = _ok(_sh(argv, project, env, timeout=300))
        if argv[1] == "init":
            _point_default_agent_at(project / ".animus" / "workflows.yaml", model_endpoint.url)

    # `animus` was the launcher, and `python` the project's own: what the README promises.
    assert f"installed {bin_dir / 'animus'}" in outputs["install"] or "up to date" in outputs["install"]
    assert shutil.which("animus", path=env["PATH"]) == str(bin_dir / "animus")
    assert "configuration valid" in outputs["config"]
    assert "completed" in outputs["run"], outputs["run"]
    requests = model_endpoint.summary()
    assert not model_endpoint.exhausted, requests

    runs = _json(_sh(["animus", "--json", "workflow", "list"], project, env))
    assert [r["task_id"] for r in runs] == ["TASK-1"], runs
    run = _json(_sh(["animus", "--json", "workflow", "get", runs[0]["id"]], project, env))
    phases = [(p["phase"], p["mode"], p["status"]) for p in run["phases"]]
    assert phases == [
        ("implementation", "agent", "advanced"),
        ("tests", "command", "advanced"),
        ("review", "agent", "advanced"),
    ], (phases, requests)
    assert "2 passed" in run["phases"][1]["output_excerpt"], run["phases"][1]
    assert run["status"] == "completed" and run["state"]["landing"] == "merged", run
    assert _json(_sh(["animus", "--json", "task", "get", "TASK-1"], project, env))["status"] == "done"

    # main holds the function, in a merge commit whose second parent is the implementation's commit.
    main = _ok(_sh(["git", "show", "main:calc.py"], project, env))
    assert "def mul(a, b):" in main
    parents = _ok(_sh(["git", "rev-list", "--parents", "-n", "1", "main"], project, env)).split()
    assert parents == [run["landed_sha"], run["base_sha"], run["phases"][0]["commit_sha"]], (parents, run)
    assert (project / "calc.py").read_text() == main  # the checkout the user is on was updated too
    assert "2 passed" in _ok(_sh(["python", "-m", "pytest", "-q"], project, env))

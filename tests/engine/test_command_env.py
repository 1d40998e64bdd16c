"""A command phase runs the project's own tools: animus's virtualenv is not on its PATH."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from support.engine import drive, make_project
from support.repo import git


def test_a_command_phase_does_not_see_animus_own_virtualenv(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    code = ("import json, os, shutil, sys; "
            f"open({str(seen)!r}, 'w').write(json.dumps([sys.prefix, shutil.which('python3'), shutil.which('pytest'), "
            "os.environ.get('VIRTUAL_ENV'), os.environ['PATH']]))")
    project = make_project(tmp_path, tests_phase=True)
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    start = text.index('    command: {argv: ["python3"')
    end = text.index("\n", start)
    config.write_text(text[:start] + f"    command: {{argv: {json.dumps(['python3', '-c', code])}}}" + text[end:])
    assert project.animus("config", "validate").code == 0
    git(project.repo, "commit", "-q", "-am", "tests phase reports its python")
    venv_bin = os.path.join(sys.prefix, "bin")
    assert sys.prefix != sys.base_prefix, "the tests run in animus's .venv"
    # as after the README's old `export PATH="$PWD/.venv/bin:$PATH"`, or an activated venv
    env = {"PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": sys.prefix}
    result = drive(project, env=env)
    assert result.exits == [0], result.outputs
    prefix, python3, pytest_bin, virtual_env, path = json.loads(seen.read_text())
    assert prefix != sys.prefix and python3 is not None and not python3.startswith(venv_bin)
    assert pytest_bin is None or not pytest_bin.startswith(venv_bin)
    assert virtual_env is None and venv_bin not in path.split(os.pathsep)

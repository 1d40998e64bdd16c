"""An environment whose PATH starts with the fake agent CLIs, for tests that run `animus agent …`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from animus.agents.fake import install_fake_clis


def fake_cli_env(tmp_path: Path, *, drop_prefixes: tuple[str, ...] = ("ANIMUS_",), **extra: str) -> dict[str, str]:
    """Fakes named claude/codex/… first on PATH, a fresh ANIMUS_HOME, a git repo at ``$REPO``."""
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.update({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "ANIMUS_HOME": str(tmp_path / "home"),
                "REPO": str(repo), **extra})
    return env

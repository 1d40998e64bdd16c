"""A fake agent CLI that impersonates claude/codex/gemini/opencode/aider/cursor-agent, for tests and demos (stdlib only)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from animus.agents.fake._cli import DEMO_SCRIPT, ENV_AS, ENV_LEDGER, ENV_SCRIPT, PERSONAS, main

CONSOLE_SCRIPT = "animus-fake-agent"
FAKE_TOOLS: tuple[str, ...] = ("claude", "codex", "gemini", "opencode", "aider", "cursor")
# The program each persona is installed as (the tool name unless the CLI is called otherwise).
_BINARIES = {"cursor": "cursor-agent"}

__all__ = [
    "CONSOLE_SCRIPT",
    "DEMO_SCRIPT",
    "ENV_AS",
    "ENV_LEDGER",
    "ENV_SCRIPT",
    "FAKE_TOOLS",
    "PERSONAS",
    "install_fake_clis",
    "main",
]


def install_fake_clis(bin_dir: Path) -> dict[str, Path]:
    """Create executables named claude/codex/gemini/opencode/aider/cursor-agent in ``bin_dir`` that run the fake."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = shutil.which(CONSOLE_SCRIPT, path=str(Path(sys.executable).parent)) or shutil.which(CONSOLE_SCRIPT)
    made: dict[str, Path] = {}
    for tool in FAKE_TOOLS:
        target = bin_dir / _BINARIES.get(tool, tool)
        if target.is_symlink() or target.exists():
            target.unlink()
        if script:
            target.symlink_to(script)
        else:
            target.write_text(f"#!{sys.executable}\nimport sys\nfrom animus.agents.fake import main\nmain()\n")
            os.chmod(target, 0o755)
        made[tool] = target
    return made

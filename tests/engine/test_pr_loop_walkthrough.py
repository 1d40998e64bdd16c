"""docs/pr-loop.md "A walk-through with the fake GitHub", run as written: its shell blocks in one bash, its
Python session in this process (the fake GitHub it starts), and what the prose says the run prints.
Only the scratch folder and the port change, and `animus run` goes to the background of that shell."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from support.walkthrough import Shell, doc_blocks, free_port, wait

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pr-loop.md"
SECTION = "## A walk-through with the fake GitHub"


def _python(block: str) -> str:
    """The statements of a ``>>>`` session (prompts and the ``$`` line dropped; output lines are none here)."""
    lines = [line[4:] for line in block.splitlines() if line.startswith((">>> ", "... "))]
    return "\n".join(lines)


def test_the_documented_pr_loop_walkthrough_reworks_a_ci_failure_and_merges_as_written(tmp_path: Path) -> None:
    demo, port = tmp_path / "pr-demo", free_port()

    def local(text: str) -> str:
        return text.replace("/tmp/pr-demo", str(demo)).replace("8765", str(port))

    blocks = [(lang, local(body)) for lang, body in doc_blocks(DOC, SECTION)]
    langs = [lang for lang, _ in blocks[:6]]
    assert langs == ["sh", "console", "sh", "pycon", "pycon", "sh"], langs  # the doc changed: walk it again by hand
    (_, setup), (_, session), (_, run), (_, ci_fails), (_, green), (_, look) = blocks[:6]
    venv_bin = Path(sys.executable).parent
    if venv_bin != ROOT / ".venv" / "bin":
        setup = setup.replace('"$PWD/.venv/bin', f'"{venv_bin}')
    starter = re.search(r"-c '([^']*)'", session)
    assert starter is not None, session
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIMUS_", "GITHUB_"))}
    namespace: dict[str, Any] = {}
    shell = Shell(ROOT, env)
    out = demo / "run.out"

    def printed() -> str:
        return out.read_text() if out.exists() else ""

    try:
        assert "created TASK-1" in shell.send(setup, timeout=120)
        exec(starter[1], namespace)  # the second shell's python -i -c '…'
        exec(_python(session), namespace)  # gh = FakeGitHub(…).start()
        shell.send(f"( {run.strip()} ) > {out} 2>&1 &", timeout=30)  # the first shell, in its background
        wait("the run to wait on its PR", lambda: f"⏳ waiting on its pull request http://127.0.0.1:{port}/acme/demo/pull/1" in printed())
        assert "⏳ TASK-1.main.1 waits on its pull request" in shell.send("animus status", timeout=60)  # "in a third shell"
        exec(_python(ci_fails), namespace)
        wait("the rework", lambda: "pr #1 → rework → implement: checks failed on" in printed(), timeout=30)
        wait("the fix pushed to PR #1", lambda: "pr #2 → wait: PR #1 updated at" in printed())
        exec(_python(green), namespace)
        wait("the merge", lambda: f"✔ completed merged PR http://127.0.0.1:{port}/acme/demo/pull/1 as " in printed())
        shell.send("wait $!", timeout=60)  # `animus run` exited 0 (set -e ends the shell otherwise)
        shown = shell.send(look, timeout=60)
        assert "Merge pull request #1 from animus/task-1" in shown and "fixed the typo CI found" in shown
        assert "TASK-1.main.1  completed" in shown and "pr checks_failed → rework" in shown
        assert namespace["gh"].count("POST", "/repos/acme/demo/pulls") == 1  # the rework pushed to the same PR
    finally:
        shell.close()
        if "gh" in namespace:
            namespace["gh"].stop()

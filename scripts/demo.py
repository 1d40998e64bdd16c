"""`./run demo`: a temp git repo, `animus init`, three tasks through the `demo` workflow, landed.

The `scripted` agent (animus's built-in fake agent CLI, speaking Claude Code's stream-json) really
edits files; the reviewer asks for one rework on the first task. No network, no API key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPLEMENTER = {
    "invocations": [
        [  # TASK-1, first attempt
            {"text": "I'll add a greeting module."},
            {"write": {"path": "greeting.py", "content": "def greet(name):\n    return f'Hello, {name}!'\n"}},
            {"usage": {"input_tokens": 1800, "output_tokens": 140, "cost_usd": 0.0151}},
            {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "added greet()"}},
        ],
        [  # TASK-1, rework after review
            {"text": "Adding the docstring the reviewer asked for."},
            {"edit": {"path": "greeting.py", "old": "def greet(name):\n", "new": "def greet(name):\n    \"\"\"Return a friendly greeting for name.\"\"\"\n"}},
            {"usage": {"input_tokens": 2100, "output_tokens": 90, "cost_usd": 0.0162}},
            {"decision": {"verdict": "advance", "confidence": 0.92, "risk": "low", "reason": "documented greet()"}},
        ],
        [  # TASK-2
            {"write": {"path": "docs/greeting.md", "content": "# Greeting\n\n`greet(name)` returns `Hello, <name>!`.\n"}},
            {"usage": {"input_tokens": 1500, "output_tokens": 60, "cost_usd": 0.0117}},
            {"decision": {"verdict": "advance", "confidence": 0.95, "risk": "low", "reason": "documented the module"}},
        ],
        [  # TASK-3
            {"edit": {"path": "README.md", "old": "# demo project\n", "new": "# demo project\n\nSays hello. See docs/greeting.md.\n"}},
            {"usage": {"input_tokens": 900, "output_tokens": 40, "cost_usd": 0.0068}},
            {"decision": {"verdict": "advance", "confidence": 0.97, "risk": "low", "reason": "tidied the README"}},
        ],
    ]
}
REVIEWER = {
    "invocations": [
        [
            {"tool": {"name": "Read", "input": {"file_path": "greeting.py"}}},
            {"usage": {"input_tokens": 1100, "output_tokens": 70, "cost_usd": 0.0089}},
            {"decision": {"verdict": "rework", "confidence": 0.85, "risk": "low", "reason": "greet() needs a docstring"}},
        ],
        *[
            [
                {"text": "Looks good."},
                {"usage": {"input_tokens": 1000, "output_tokens": 30, "cost_usd": 0.0071}},
                {"decision": {"verdict": "advance", "confidence": 0.93, "risk": "low", "reason": "the change is clean"}},
            ]
        ]
        * 3,
    ]
}
OVERRIDE = """\
# Written by ./run demo: point the scripted agents at the demo's scripts (later files override by id).
agents:
  scripted:
    tool: scripted
    script: .animus/demo/implementer.json
  scripted-reviewer:
    tool: scripted
    script: .animus/demo/reviewer.json
phases:
  demo-review:
    mode: agent
    agent: scripted-reviewer
    directive: Review the demo change.
    read_only: true
"""


def animus(*args: str, cwd: Path, check: bool = True) -> int:
    print(f"\n$ animus {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "animus.cli.main", *args], cwd=cwd).returncode
    if check and code != 0:
        raise SystemExit(f"demo: `animus {' '.join(args)}` exited {code}")
    return code


def git(*args: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
           "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"}
    subprocess.run(["git", *args], cwd=cwd, check=True, env=env)


def main() -> None:
    started = time.monotonic()
    keep = "--keep" in sys.argv
    tmp = Path(tempfile.mkdtemp(prefix="animus-demo-"))
    os.environ["ANIMUS_HOME"] = str(tmp / "animus-home")
    repo = tmp / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.name", "demo", cwd=repo)
    git("config", "user.email", "demo@example.com", cwd=repo)
    (repo / "README.md").write_text("# demo project\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "initial commit", cwd=repo)
    print(f"demo repository: {repo}")
    animus("init", cwd=repo)
    demo_dir = repo / ".animus" / "demo"
    demo_dir.mkdir(parents=True)
    (demo_dir / "implementer.json").write_text(json.dumps(IMPLEMENTER, indent=1))
    (demo_dir / "reviewer.json").write_text(json.dumps(REVIEWER, indent=1))
    (repo / ".animus" / "workflows").mkdir(exist_ok=True)
    (repo / ".animus" / "workflows" / "demo-agents.yaml").write_text(OVERRIDE)
    git("add", ".animus", cwd=repo)
    git("commit", "-q", "-m", "animus configuration", cwd=repo)
    animus("config", "validate", cwd=repo)
    animus("task", "create", "--title", "Add a greeting module", "--priority", "high", "--status", "ready", cwd=repo)
    animus("task", "create", "--title", "Document the greeting", "--type", "docs", "--status", "ready", "--depends-on", "TASK-1", cwd=repo)
    animus("task", "create", "--title", "Tidy the README", "--type", "chore", "--priority", "low", "--status", "ready", cwd=repo)
    for task in ("TASK-1", "TASK-2", "TASK-3"):
        animus("run", task, "--workflow", "demo", cwd=repo)
    animus("task", "list", cwd=repo)
    animus("workflow", "list", cwd=repo)
    animus("cost", "--by", "day", cwd=repo)
    print("\n$ git log --oneline --graph main", flush=True)
    subprocess.run(["git", "--no-pager", "log", "--oneline", "--graph", "main"], cwd=repo, check=True)
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    if keep:
        print(f"kept {tmp} (ANIMUS_HOME={tmp / 'animus-home'})")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

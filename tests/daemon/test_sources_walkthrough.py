"""docs/sources.md "Try it with the fake GitHub server", run as written: every ``sh`` block goes, in order,
into one bash (as a user's shell: exports, cwd and the background fake carry over), and every ``text``
block after one must show in what that block printed. Only the scratch folder and the port change."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.walkthrough import Shell, doc_blocks, free_port, shows, wait

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "sources.md"
SECTION = "## Try it with the fake GitHub server"


def _steps() -> list[tuple[str, list[str]]]:
    """Each sh block with the lines its following text block promises."""
    steps: list[tuple[str, list[str]]] = []
    for lang, body in doc_blocks(DOC, SECTION):
        if lang == "sh":
            steps.append((body, []))
        elif lang == "text":
            assert steps, "a text block before any command"
            steps[-1][1].extend(line for line in body.splitlines() if line.strip())
    return steps


def test_the_documented_walkthrough_takes_an_issue_to_a_merged_pr_as_written(tmp_path: Path) -> None:
    demo, port = tmp_path / "issue-demo", free_port()
    steps = [(body.replace("/tmp/issue-demo", str(demo)).replace("8765", str(port)),
              [p.replace("8765", str(port)) for p in promised]) for body, promised in _steps()]
    assert len(steps) == 9, [body.splitlines()[0] for body, _ in steps]  # the doc changed: walk it again by hand
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIMUS_", "GITHUB_"))}
    env["ANIMUS_HTTP_PORT"] = "0"  # the dashboard's port: any free one, as every daemon test does
    venv_bin = Path(sys.executable).parent
    if venv_bin != ROOT / ".venv" / "bin":
        steps = [(body.replace('"$PWD/.venv/bin', f'"{venv_bin}'), promised) for body, promised in steps]
    api = f"http://127.0.0.1:{port}/repos/acme/demo"

    def get(path: str) -> object:
        import httpx

        return httpx.get(f"{api}/{path}", headers={"Authorization": "Bearer t0ken"}, timeout=10).json()

    def head() -> str:
        return subprocess.run(["git", "-C", str(demo / "origin.git"), "rev-parse", "animus/task-1"],
                              capture_output=True, text=True).stdout.strip()

    def run_status() -> str | None:
        pulls = get("pulls?state=all")
        return str(pulls[0]["state"]) if isinstance(pulls, list) and pulls else None

    def waiting_on(sha: str | None) -> Callable[[], bool]:
        def check() -> bool:
            comments = get("issues/1/comments")
            told = isinstance(comments, list) and any("waiting on its pull request" in c["body"] for c in comments)
            return told and run_status() == "open" and bool(head()) and head() != sha
        return check

    # before each block (by its first words): what the doc's prose says to wait for
    waits: dict[str, Callable[[], bool]] = {
        "animus status": waiting_on(None),
        "animus workflow get": lambda: False,  # replaced once the failing check is in
        "animus task get": lambda: isinstance(issue := get("issues/1"), dict) and issue["state"] == "closed",
    }
    shell = Shell(ROOT, env)
    first_head, fake_pid = None, 0
    try:
        for number, (body, promised) in enumerate(steps, 1):
            if body.startswith("animus daemon stop"):  # the last block stops the fake: look at it first
                assert len(get("pulls?state=all")) == 1  # type: ignore[arg-type]  # the rework pushed to the same PR
            for start, check in waits.items():
                if body.startswith(start):
                    wait(f"the moment before block {number} ({start})", check)
            out = shell.send(body, timeout=120)
            if number == 1:
                wait("the fake GitHub to listen", lambda: (demo / "fake-github.log").read_text().startswith("http://"))
                fake_pid = int(shell.send("echo $!", timeout=10).strip())
            if body.startswith("head=") and first_head is None:
                first_head = head()
                waits["animus workflow get"] = waiting_on(first_head)  # the rework pushed a new head and waits
            missing = [p for p in promised if not shows(out, p)]
            assert not missing, f"block {number} did not print {missing}:\n{body}\n--- printed:\n{out}"
    finally:
        shell.close()
        subprocess.run([str(venv_bin / "animus"), "daemon", "stop"], cwd=demo / "repo",
                       env={**env, "ANIMUS_HOME": str(demo / "home")}, capture_output=True, timeout=60)
        if fake_pid:  # a block that failed never reached `kill %1`
            with contextlib.suppress(ProcessLookupError):
                os.kill(fake_pid, signal.SIGTERM)
    (spec,) = (demo / "home").glob("*/runs/TASK-1.main.1-implement-2/spec.json")
    rework_prompt = json.dumps(json.loads(spec.read_text()))
    assert "test_hello: expected hello, got helo" in rework_prompt  # the check's summary reached the agent

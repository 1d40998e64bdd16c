"""A usage limit pauses its provider for the whole queue: what needs it waits, everything else is dispatched."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from support.daemon import all_done, create_task, run_order, start, wait_for
from support.engine import Project
from support.repo import git


def _two_providers(project: Project) -> None:
    """The default workflow's implementation runs on provider claude; workflow `other` runs on codex."""
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text().replace("    script: .animus/impl.json\n",
                                      "    script: .animus/impl.json\n    provider: claude\n", 1)
    text = text.replace("  reviewer:\n", "  backup:\n    tool: scripted\n    script: .animus/backup.json\n    provider: codex\n"
                        f'    env: {{ANIMUS_FAKE_LEDGER: "{project.ledger}"}}\n  reviewer:\n', 1)
    text = text.replace("phases:\n  implementation:", "phases:\n  quick: {mode: agent, agent: backup, directive: Do it.}\n"
                        "  implementation:", 1)
    text = text.replace("workflows:\n", "workflows:\n  - id: other\n    phases: [quick]\n"
                        "    post_success: {merge: {strategy: merge, target_branch: main}}\n", 1)
    config.write_text(text)
    script = [{"write": {"path": "other.txt", "content": "x\n"}},
              {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "done"}}]
    (project.repo / ".animus" / "backup.json").write_text(json.dumps({"invocations": [script]}))
    assert project.animus("config", "validate").code == 0
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "two providers")


def test_a_paused_provider_holds_its_tasks_in_the_queue_while_others_run_and_they_run_after_the_reset(
    project_factory: Callable[..., Project],
) -> None:
    project = project_factory(pool=1)
    _two_providers(project)
    claude_task = "TASK-1"
    project.animus("task", "update", claude_task, "--priority", "critical")  # first in line, were claude free
    codex_task = create_task(project, "Other", priority="low")
    assert project.animus("queue", "enqueue", claude_task).code == 0
    assert project.animus("queue", "enqueue", codex_task, "--workflow", "other").code == 0
    resets_at = time.time() + 5
    store = project.store()
    try:
        store.record_provider_limit("claude", resets_at, "429 Too Many Requests (another run)", "ELSEWHERE-1")
    finally:
        store.close()
    status = project.animus("status", "--json").json()
    assert [p["provider"] for p in status["paused_providers"]] == ["claude"]
    start(project)
    wait_for(lambda: all_done(project, [claude_task, codex_task]), 120, "both tasks done")
    assert run_order(project) == [codex_task, claude_task]  # the critical claude task waited; the low codex one went
    spawns = project.spawns()
    assert len(spawns) == 3  # codex once, then claude's implementation and review once each
    assert all(s["time"] >= resets_at for s in spawns[1:])  # nothing of claude's task started before the reset

"""Provider pauses and fallback agents: a usage limit one run meets pauses its provider for every run."""

from __future__ import annotations

import json
import time
from pathlib import Path

from support.engine import Project, drive, make_project, outcome_of
from support.repo import git

ADVANCE = {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}


def _with_providers(project: Project, *, fallback: bool) -> None:
    """impl runs on provider claude; with ``fallback``, its phase may run on `backup` (provider codex)."""
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text().replace("    script: .animus/impl.json\n",
                                      "    script: .animus/impl.json\n    provider: claude\n", 1)
    backup = ('  backup:\n    tool: scripted\n    script: .animus/backup.json\n    provider: codex\n'
              f'    env: {{ANIMUS_FAKE_LEDGER: "{project.ledger}"}}\n')
    text = text.replace("  reviewer:\n", backup + "  reviewer:\n", 1)
    if fallback:
        text = text.replace("implementation: {mode: agent, agent: impl,",
                            "implementation: {mode: agent, agent: impl, fallback_agents: [backup],", 1)
    config.write_text(text)
    script = [{"write": {"path": "a.txt", "content": "from the backup\n"}}, ADVANCE]
    (project.repo / ".animus" / "backup.json").write_text(json.dumps({"invocations": [script]}))
    assert project.animus("config", "validate").code == 0
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "providers")


def _limits(project: Project) -> dict[str, float]:
    store = project.store()
    try:
        return {limit.provider: limit.resets_at for limit in store.provider_limits(time.time())}
    finally:
        store.close()


def test_a_rate_limit_pauses_the_provider_and_the_phase_runs_on_its_fallback_at_once(tmp_path: Path) -> None:
    resets_at = int(time.time()) + 3600  # far away: only the fallback can finish the run
    limited = {"invocations": [[{"text": "starting"}, {"rate_limit": {"resets_at": resets_at}}]]}
    project = make_project(tmp_path, impl=limited, review=[ADVANCE])
    _with_providers(project, fallback=True)
    result = drive(project)
    assert result.exits == [0], result.outputs
    out = outcome_of(project)
    assert out["run_status"] == "completed" and "a.txt" in out["files_on_main"]
    assert _limits(project) == {"claude": resets_at}  # recorded for every run of the provider, with its reset
    assert len(project.spawns()) == 3  # impl (limited), backup (at once, no wait for the reset), review
    assert git(project.repo, "show", "main:a.txt") == "from the backup\n"
    store = project.store()
    try:
        run = store.list_runs(task_id="TASK-1")[0]
        impl = [p for p in store.phase_runs(run.id) if p.phase == "implementation"]
        decisions = [d for d in store.decisions(run.id) if d.phase == "implementation"]
    finally:
        store.close()
    assert [p.agent for p in impl] == ["backup"]  # the phase row names who actually ran it
    assert "ran on fallback agent backup instead of impl" in decisions[0].reason
    assert "claude is paused by a usage limit" in decisions[0].reason


def test_a_paused_provider_holds_a_phase_without_fallback_until_the_reset(tmp_path: Path) -> None:
    project = make_project(tmp_path, impl=[{"write": {"path": "a.txt", "content": "x\n"}}, ADVANCE], review=[ADVANCE])
    _with_providers(project, fallback=False)
    resets_at = time.time() + 4
    store = project.store()
    try:
        store.record_provider_limit("claude", resets_at, "429 from another run", "OTHER-1")
        store.record_provider_limit("claude", resets_at - 100, "an older report", "OTHER-2")  # the later reset stands
        assert [(lim.provider, lim.reason) for lim in store.provider_limits(time.time())] == [("claude", "429 from another run")]
    finally:
        store.close()
    result = drive(project)
    assert result.exits == [0], result.outputs
    spawns = project.spawns()
    assert len(spawns) == 2  # impl once (after the reset, not refused and retried), review once
    assert spawns[0]["time"] >= resets_at  # no claude agent started while its provider was paused
    assert outcome_of(project)["run_status"] == "completed"


def test_an_agent_that_fails_with_a_provider_error_after_its_retries_hands_the_phase_to_its_fallback(tmp_path: Path) -> None:
    crash = [{"text": "starting"}, {"crash": {"code": 137}}]
    project = make_project(tmp_path, impl={"invocations": [crash, crash]}, review=[ADVANCE])  # impl: max_attempts 2
    _with_providers(project, fallback=True)
    result = drive(project)
    assert result.exits == [0], result.outputs
    assert outcome_of(project)["run_status"] == "completed"
    assert len(project.spawns()) == 4  # impl twice (its max_attempts), the backup once, the review once
    assert _limits(project) == {}  # a crash is no usage limit: nothing is paused
    store = project.store()
    try:
        run = store.list_runs(task_id="TASK-1")[0]
        impl = [p for p in store.phase_runs(run.id) if p.phase == "implementation"]
        reason = next(d.reason for d in store.decisions(run.id) if d.phase == "implementation")
    finally:
        store.close()
    assert [p.agent for p in impl] == ["backup"]
    assert "ran on fallback agent backup instead of impl: impl failed 2 time(s)" in reason

"""A real Claude Code's HTTP 429 pauses claude for the whole daemon: the claude task behind it waits in the queue,
codex tasks run, a phase with ``fallback_agents: [codex-agent]`` runs on codex at once, and after the reset the claude
tasks run. Real claude and codex against the scripted endpoint; the fake-CLI twin is tests/daemon/test_limits.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import cleanup, create_task, log_text, wait_for
from support.engine import Project, make_project
from support.model_endpoint import ModelEndpoint, Turn
from support.realcli import MODELS, isolated_env, require_cli
from support.repo import git

pytestmark = [pytest.mark.realcli, pytest.mark.slow]
KEY_ENV = "ANIMUS_TEST_API_KEY"
CLAUDE = f"claude:{KEY_ENV}"  # the provider an agent with its own api_key_env counts against

CONFIG = """\
default_workflow: on-claude
daemon: {{pool_size: 3, interval_secs: 0.2}}
agents:
  claude-agent:
    tool: claude
    model: {claude_model}
    base_url: {url}
    api_key_env: {key}
    animus_mcp: false
  codex-agent:
    tool: codex
    model: {codex_model}
    base_url: {url}/v1
    api_key_env: {key}
    animus_mcp: false
phases:
  on-claude: {{mode: agent, agent: claude-agent, directive: Say that it is done.}}
  on-codex: {{mode: agent, agent: codex-agent, directive: Say that it is done.}}
  claude-or-codex: {{mode: agent, agent: claude-agent, fallback_agents: [codex-agent], directive: Say that it is done.}}
workflows:
  - id: on-claude
    phases: [on-claude]
  - id: on-codex
    phases: [on-codex]
  - id: with-fallback
    phases: [claude-or-codex]
"""


@pytest.fixture
def project(tmp_path: Path, model_endpoint: ModelEndpoint) -> Iterator[Project]:
    made = make_project(tmp_path / "p")
    (made.repo / ".animus" / "workflows.yaml").write_text(CONFIG.format(
        url=model_endpoint.url, key=KEY_ENV, claude_model=MODELS["claude"], codex_model=MODELS["codex"]))
    git(made.repo, "add", ".animus")
    git(made.repo, "commit", "-q", "-m", "real claude and codex")
    yield made
    cleanup(made)


def _env(project: Project, tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path / "cli", **project.env, **{KEY_ENV: "test-key"})
    env["PATH"] = f"{require_cli('claude').parent}:{require_cli('codex').parent}:{env['PATH']}"
    return env


def _runs(project: Project) -> dict[str, Any]:
    store = project.store()
    try:
        return {r.task_id: r for r in store.list_runs()}
    finally:
        store.close()


def _phase(project: Project, run_id: str) -> Any:
    store = project.store()
    try:
        [phase] = store.phase_runs(run_id)
        return phase, [d.reason for d in store.decisions(run_id)]
    finally:
        store.close()


def _paused_until(project: Project) -> float | None:
    store = project.store()
    try:
        return next((lim.resets_at for lim in store.provider_limits(time.time()) if lim.provider == CLAUDE), None)
    finally:
        store.close()


def test_a_real_claude_429_pauses_claude_for_the_queue_while_codex_and_a_fallback_run(
    project: Project, tmp_path: Path, model_endpoint: ModelEndpoint,
) -> None:
    env = _env(project, tmp_path)
    assert project.animus("config", "validate", env=env).code == 0
    model_endpoint.script("anthropic", [Turn.rate_limit(retry_after=3600)])  # every claude request, until replaced
    model_endpoint.script("openai", [Turn.final("advance", reason="codex did it"), Turn.final("advance", reason="codex did it")])
    first = "TASK-1"
    assert project.animus("queue", "enqueue", first, env=env).code == 0
    started = project.animus("daemon", "start", "--json", env=env, timeout=90)
    assert started.code == 0, (started.stdout, started.stderr)

    until = wait_for(lambda: _paused_until(project), 90, f"claude's pause; endpoint: {model_endpoint.summary()}\n"
                     f"{log_text(project)[-2000:]}")
    seen = time.time()
    model_endpoint.replace("anthropic", [Turn.final("advance", reason="claude did it")] * 2)  # what claude gets after the reset
    # Claude Code with an API key names no reset (no rate_limit_event; its result says only 429): the default pause
    assert 50 <= until - seen <= 61, until - seen
    status = project.animus("status", "--json", env=env).json()
    assert [p["provider"] for p in status["paused_providers"]] == [CLAUDE], status["paused_providers"]

    second = create_task(project, "Another claude task")
    on_codex = create_task(project, "A codex task")
    with_fallback = create_task(project, "A claude task with a fallback")
    for task, workflow in ((second, "on-claude"), (on_codex, "on-codex"), (with_fallback, "with-fallback")):
        assert project.animus("queue", "enqueue", task, "--workflow", workflow, env=env).code == 0

    # before the reset: codex's task and the fallback phase run (on codex); no claude agent starts
    wait_for(lambda: all(r.status.value == "completed" for t, r in _runs(project).items() if t in (on_codex, with_fallback))
             and {on_codex, with_fallback} <= set(_runs(project)), 60, f"the codex runs; {model_endpoint.summary()}")
    assert time.time() < until, "the codex runs ended before claude's reset"
    assert second not in _runs(project), "the claude task waits in the queue while claude is paused"
    fallback_phase, reasons = _phase(project, _runs(project)[with_fallback].id)
    assert fallback_phase.agent == "codex-agent"
    assert reasons[-1].endswith(f"[ran on fallback agent codex-agent instead of claude-agent: {CLAUDE} is paused by a "
                                "usage limit]"), reasons
    assert [r.status for r in model_endpoint.main_requests("anthropic")] == [429], model_endpoint.summary()  # no retry loop

    # after the reset both claude tasks run on claude
    wait_for(lambda: all(_runs(project).get(t) is not None and _runs(project)[t].status.value == "completed"
                         for t in (first, second)), 150, f"the claude runs; {model_endpoint.summary()}\n{log_text(project)[-2000:]}")
    assert _runs(project)[second].created_at >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until - 1))
    for task in (first, second):
        phase, _ = _phase(project, _runs(project)[task].id)
        assert phase.agent == "claude-agent"
    answered = [r for r in model_endpoint.main_requests("anthropic") if r.status == 200]
    assert len(answered) == 2, model_endpoint.summary()
    assert len(model_endpoint.main_requests("openai")) == 2, model_endpoint.summary()

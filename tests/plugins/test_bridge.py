"""The provider bridge under procs' supervisor: status before start, stop → agent/cancel, a dying plugin fails the run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from animus.agents import AgentProfile, RunReader, SessionPlan, start_agent_run
from animus.plugins import PluginHost
from animus.procs import is_alive, sweep_orphans
from support.plugins import NODE_EDITOR, install
from support.repo import make_repo

RUN = "run-bridge-1"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    install(root, NODE_EDITOR)
    PluginHost(root, tmp_path / "state").lock()
    return root


def _start(tmp_path: Path, repo: Path, run_id: str = RUN, session: SessionPlan | None = None, **env: str) -> Any:
    profile = AgentProfile(
        tool="plugin:nodeedit",
        env={"NODEEDIT_STATE_DIR": str(tmp_path / "nodeedit-state"), "NODEEDIT_LEDGER": str(tmp_path / "ledger"), **env},
    )
    runs = tmp_path / "state" / "runs"
    handle = start_agent_run(profile, "Edit it.", cwd=repo, runs_dir=runs, state_dir=tmp_path / "state", run_id=run_id, session=session)
    return handle, runs


def _outcome(run_id: str, runs: Path) -> Any:
    reader = RunReader(run_id, runs)
    reader.drain()
    outcome = reader.outcome()
    assert outcome is not None
    return outcome


def _ledger(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "ledger"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_run_the_plugin_already_finished_is_answered_from_agent_status_and_not_started_again(tmp_path: Path, repo: Path) -> None:
    # the plugin's own record of this run id, as a plugin that survived a lost bridge would keep it
    state = tmp_path / "nodeedit-state"
    state.mkdir()
    recorded = {"run_id": RUN, "status": "completed", "session_id": "s-1", "text": "done before",
                "decision": {"verdict": "advance", "confidence": 0.8, "risk": "low", "reason": "recorded"}}
    (state / f"{RUN}.json").write_text(json.dumps({"status": "completed", "result": recorded}))
    handle, runs = _start(tmp_path, repo)
    handle.wait(timeout=30)
    outcome = _outcome(RUN, runs)
    assert outcome.status == "ok" and outcome.decision.reason == "recorded"
    assert _ledger(tmp_path) == [{"call": "agent/status", "of": RUN}]  # asked first; agent/run never called
    assert not (repo / "PLUGIN_EDIT.md").exists()


def test_a_resumed_session_goes_to_agent_resume(tmp_path: Path, repo: Path) -> None:
    handle, runs = _start(tmp_path, repo, session=SessionPlan.resume_of("sess-9"))
    handle.wait(timeout=30)
    assert _outcome(RUN, runs).session_id == "sess-9"
    assert [e.get("call") or e["resumed"] for e in _ledger(tmp_path)] == ["agent/status", "agent/resume", True]


def test_stopping_the_run_cancels_it_in_the_plugin_and_leaves_no_process(tmp_path: Path, repo: Path) -> None:
    handle, runs = _start(tmp_path, repo, NODEEDIT_DELAY_MS="20000")
    deadline = time.monotonic() + 20
    while not [e for e in _ledger(tmp_path) if "pid" in e] and time.monotonic() < deadline:
        time.sleep(0.05)
    plugin_pid = next(e["pid"] for e in _ledger(tmp_path) if "pid" in e)
    time.sleep(0.1)  # the bridge is waiting on agent/run now
    started = time.monotonic()
    exit_record = handle.stop(grace=5)
    assert exit_record is not None and exit_record.reason == "stopped"
    assert time.monotonic() - started < 8
    assert _outcome(RUN, runs).status == "killed"
    assert not is_alive(plugin_pid, None)
    assert {"cancelled": RUN} in _ledger(tmp_path)  # the bridge told the plugin before it ended
    assert not (repo / "PLUGIN_EDIT.md").exists()
    sweep_orphans(runs, set())


def test_a_plugin_that_dies_mid_run_fails_the_run_with_a_clear_reason(tmp_path: Path, repo: Path) -> None:
    handle, runs = _start(tmp_path, repo, NODEEDIT_CRASH="9")
    exit_record = handle.wait(timeout=30)
    outcome = _outcome(RUN, runs)
    assert exit_record.exit_code == 1
    assert outcome.status == "failed"
    assert "plugin nodeedit exited with code 9 while agent/run was in flight" in outcome.reason


def test_the_smallest_provider_in_docs_plugins_md_works_as_written(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    example = docs.split("## Writing a plugin", 1)[1].split("```js\n", 1)[1].split("```", 1)[0]
    root = make_repo(tmp_path / "repo")
    tiny = root / ".animus" / "plugins" / "animus-provider-tiny"
    tiny.parent.mkdir(parents=True)
    tiny.write_text(example)
    tiny.chmod(0o755)
    PluginHost(root, tmp_path / "state").lock()
    runs = tmp_path / "state" / "runs"
    handle = start_agent_run(AgentProfile(tool="plugin:tiny"), "Do it.", cwd=root, runs_dir=runs, state_dir=tmp_path / "state", run_id="tiny-1")
    handle.wait(timeout=30)
    outcome = _outcome("tiny-1", runs)
    assert outcome.status == "ok" and outcome.decision.verdict == "advance", outcome
    assert '"text": "nothing to do"' in (runs / "tiny-1" / "stdout.log").read_text()  # its event, in the run's log

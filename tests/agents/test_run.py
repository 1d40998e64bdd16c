"""Agent runs through the real supervisor: start, follow, outcome, idempotency, timeouts, failure modes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from animus.agents import AgentProfile, Decision, ReadCursor, SessionPlan, read_run, start_agent_run
from animus.agents.fake import install_fake_clis
from animus.domain.errors import NotFound, Unavailable


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)
    work = tmp_path / "work"
    work.mkdir()
    environ = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    environ.pop("ANIMUS_FAKE_SCRIPT", None)
    return {"tmp": tmp_path, "work": work, "runs": tmp_path / "runs", "state": tmp_path / "state",
            "environ": environ, "ledger": tmp_path / "ledger.jsonl"}


def profile_for(world: dict[str, object], tool: str, steps: object = None, **fields: object) -> AgentProfile:
    env = {"ANIMUS_FAKE_LEDGER": str(world["ledger"])}
    if steps is not None:
        script = Path(str(world["tmp"])) / f"script-{time.monotonic_ns()}.json"
        script.write_text(json.dumps(steps))
        env["ANIMUS_FAKE_SCRIPT"] = str(script)
    fields.setdefault("timeout_secs", 60)
    fields.setdefault("idle_timeout_secs", 30)
    return AgentProfile(tool=tool, env=env, **fields)  # type: ignore[arg-type]


def start(world: dict[str, object], profile: AgentProfile, **kw: object):
    return start_agent_run(profile, "do the task", cwd=world["work"], runs_dir=world["runs"],  # type: ignore[arg-type]
                           state_dir=world["state"], environ=world["environ"], grace_secs=0.3, **kw)  # type: ignore[arg-type]


def finish(world: dict[str, object], run_id: str):
    from animus.procs import attach

    attach(run_id, Path(str(world["runs"]))).wait(timeout=60)
    return read_run(run_id, world["runs"])  # type: ignore[arg-type]


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "opencode", "aider", "cursor", "scripted"])
def test_each_tool_runs_detached_and_reads_back_ok_with_its_decision(world: dict[str, object], tool: str) -> None:
    handle = start(world, profile_for(world, tool), labels={"task": "T-1"})
    view = finish(world, handle.run_id)
    assert view.status == "finished" and view.tool == tool and view.labels["task"] == "T-1"
    assert view.outcome is not None and view.outcome.status == "ok", view.outcome
    assert isinstance(view.outcome.decision, Decision) and view.outcome.decision.verdict == "advance"
    assert handle.run_id.startswith("run-")


def test_claude_run_records_its_new_session_id_and_resume_passes_it_back(world: dict[str, object]) -> None:
    steps = {"steps": [{"crash": {"code": 2}}], "on_resume": [{"decision": {"verdict": "advance"}}]}
    profile = profile_for(world, "claude", steps)
    first = finish(world, start(world, profile).run_id)
    assert first.outcome is not None and first.outcome.status == "failed"
    sid = first.labels["session_id"]
    assert first.outcome.session_id == sid
    second = finish(world, start(world, profile, session=SessionPlan.resume_of(sid)).run_id)
    assert second.outcome is not None and second.outcome.status == "ok" and second.outcome.session_id == sid


def test_same_run_id_spawns_once(world: dict[str, object]) -> None:
    profile = profile_for(world, "claude")
    start(world, profile, run_id="run-fixed-1")
    start(world, profile, run_id="run-fixed-1")
    finish(world, "run-fixed-1")
    assert len(Path(str(world["ledger"])).read_text().splitlines()) == 1


def test_reading_with_a_cursor_continues_without_gaps_or_duplicates(world: dict[str, object]) -> None:
    steps = [{"text": f"line {i}"} for i in range(5)] + [{"sleep": 0.5}] + [{"text": f"late {i}"} for i in range(5)]
    handle = start(world, profile_for(world, "claude", steps))
    time.sleep(0.3)
    first = read_run(handle.run_id, world["runs"])  # type: ignore[arg-type]
    handle.wait(timeout=60)
    rest = read_run(handle.run_id, world["runs"], first.cursor)  # type: ignore[arg-type]
    texts = [e.data["text"] for e in first.events + rest.events if e.kind == "text"]
    assert texts == [f"line {i}" for i in range(5)] + [f"late {i}" for i in range(5)]
    assert rest.outcome is not None and rest.outcome.status == "ok"
    assert isinstance(ReadCursor(), ReadCursor)


def test_idle_agent_is_killed_with_its_setsid_grandchild_and_judged_killed(world: dict[str, object]) -> None:
    pidfile = Path(str(world["tmp"])) / "grandchild.pid"
    steps = [{"spawn_grandchild_ignoring_sigterm": {"pidfile": str(pidfile)}}, "hang"]
    handle = start(world, profile_for(world, "claude", steps, idle_timeout_secs=1))
    view = finish(world, handle.run_id)
    assert view.outcome is not None and view.outcome.status == "killed"
    assert "idle" in view.outcome.reason
    grandchild = int(pidfile.read_text())
    for _ in range(100):
        if not Path(f"/proc/{grandchild}").exists():
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{grandchild}").exists()


def test_sigkill_between_tool_use_and_result_is_a_failure_not_a_success(world: dict[str, object]) -> None:
    view = finish(world, start(world, profile_for(world, "claude", ["sigkill_between_tool_use_and_result"])).run_id)
    assert view.outcome is not None and view.outcome.status == "failed"
    assert "signal 9" in view.outcome.reason
    assert [e.kind for e in view.events].count("tool_call") == 1


def test_api_error_as_success_through_the_supervisor_is_failed(world: dict[str, object]) -> None:
    view = finish(world, start(world, profile_for(world, "claude", ["api_error_as_success"])).run_id)
    assert view.outcome is not None and view.outcome.status == "failed" and view.exit is not None
    assert view.exit.exit_code == 0


def test_a_20mb_flood_is_read_completely(world: dict[str, object]) -> None:
    view = finish(world, start(world, profile_for(world, "claude", [{"flood": {"mb": 20}}, "malformed_decision"])).run_id)
    assert view.outcome is not None and view.outcome.status == "ok"
    assert view.exit is not None and view.exit.stdout_bytes > 20 * 1024 * 1024
    assert view.cursor.offset == view.exit.stdout_bytes


@pytest.mark.slow
def test_a_100mb_flood_is_read_completely(world: dict[str, object]) -> None:
    view = finish(world, start(world, profile_for(world, "codex", [{"flood": {"mb": 100}}])).run_id)
    assert view.outcome is not None and view.outcome.status == "ok"


def test_missing_cli_is_unavailable_and_unknown_run_is_not_found(world: dict[str, object]) -> None:
    # no claude on PATH, and an install cache without it (the real cache may hold one)
    environ = {**world["environ"], "PATH": "/nonexistent", "ANIMUS_CLI_CACHE": str(world["tmp"] / "no-cache")}  # type: ignore[dict-item,operator]
    with pytest.raises(Unavailable, match="claude"):
        start_agent_run(AgentProfile(tool="claude"), "x", cwd=world["work"], runs_dir=world["runs"],  # type: ignore[arg-type]
                        state_dir=world["state"], environ=environ)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        read_run("run-nope", world["runs"])  # type: ignore[arg-type]


def _env_seen_by_agent(world: dict[str, object], **fields: object) -> dict[str, str]:
    out = Path(str(world["tmp"])) / f"env-{time.monotonic_ns()}.json"
    code = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    profile = AgentProfile(tool="command", command=["python3", "-c", code], timeout_secs=60, **fields)  # type: ignore[arg-type]
    environ = {**world["environ"], "JAVA_HOME": "/opt/jdk", "HTTPS_PROXY": "http://proxy:3128",  # type: ignore[dict-item]
               "SSL_CERT_FILE": "/etc/ca.pem", "AWS_REGION": "eu-west-1", "ANIMUS_HOME": "/animus-state",
               "ANIMUS_DATABASE_URL": "postgresql://u:pw@db/animus", "VIRTUAL_ENV": "/animus/.venv",
               "PATH": f"/animus/.venv/bin{os.pathsep}{world['environ']['PATH']}"}  # type: ignore[index]
    handle = start_agent_run(profile, "p", cwd=world["work"], runs_dir=world["runs"],  # type: ignore[arg-type]
                             state_dir=world["state"], environ=environ, grace_secs=0.3)
    assert finish(world, handle.run_id).status == "finished"
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_an_agent_gets_the_users_environment_but_not_animus_own(world: dict[str, object]) -> None:
    seen = _env_seen_by_agent(world)
    assert {k: seen.get(k) for k in ("JAVA_HOME", "HTTPS_PROXY", "SSL_CERT_FILE", "AWS_REGION")} == {
        "JAVA_HOME": "/opt/jdk", "HTTPS_PROXY": "http://proxy:3128", "SSL_CERT_FILE": "/etc/ca.pem", "AWS_REGION": "eu-west-1"}
    assert "ANIMUS_HOME" not in seen and "ANIMUS_DATABASE_URL" not in seen
    assert "VIRTUAL_ENV" not in seen and "/animus/.venv/bin" not in seen["PATH"].split(os.pathsep)


def test_env_inherit_none_and_a_list_isolate_an_agent(world: dict[str, object]) -> None:
    none = _env_seen_by_agent(world, env_inherit="none")
    assert "JAVA_HOME" not in none and "HTTPS_PROXY" not in none and none["PATH"]
    listed = _env_seen_by_agent(world, env_inherit=("JAVA_HOME", "*_PROXY"))
    assert (listed.get("JAVA_HOME"), listed.get("HTTPS_PROXY"), listed.get("SSL_CERT_FILE")) == ("/opt/jdk", "http://proxy:3128", None)

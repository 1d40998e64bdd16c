"""tool: acp — the bridge under the real supervisor, driving a real ACP agent program (tests/support/fake_acp_agent.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from animus import procs
from animus.agents import AgentProfile, Decision, RunView, SessionPlan, get_adapter, read_run, start_agent_run
from animus.agents._acp_policy import _Policy
from animus.domain.errors import InvalidInput, Unavailable

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_acp_agent.py"
DECISION = json.dumps({"kind": "phase_decision", "verdict": "advance", "confidence": 0.9, "risk": "low",
                       "reason": "wrote it", "evidence": []})


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    return {"tmp": tmp_path, "work": work, "runs": tmp_path / "runs", "state": tmp_path / "state",
            "ledger": tmp_path / "ledger.jsonl"}


def acp_profile(world: dict[str, Path], script: dict[str, Any], **fields: Any) -> AgentProfile:
    path = world["tmp"] / f"script-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(script))
    fields.setdefault("timeout_secs", 60)
    fields.setdefault("idle_timeout_secs", 30)
    return AgentProfile(tool="acp", command=[sys.executable, str(FAKE), str(path), str(world["ledger"])], **fields)


def start(world: dict[str, Path], profile: AgentProfile, **kw: Any) -> procs.RunHandle:
    return start_agent_run(profile, "Create hello.txt containing hi.", cwd=world["work"], runs_dir=world["runs"],
                           state_dir=world["state"], environ=dict(os.environ), grace_secs=2.0, **kw)


def finish(world: dict[str, Path], run_id: str) -> RunView:
    procs.attach(run_id, world["runs"]).wait(timeout=60)
    return read_run(run_id, world["runs"])


def ledger(world: dict[str, Path]) -> list[dict[str, Any]]:
    path = world["ledger"]
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


WRITE_SCRIPT = {
    "steps": [
        {"thought": "I will write the file"},
        {"plan": ["write hello.txt", "report"]},
        {"message": "Writing now."},
        {"write": {"path": "hello.txt", "content": "hi\n"}},
        {"message": "Done.\n" + DECISION},
    ],
    "usage": {"input": 300, "output": 70},
}


def test_an_acp_agent_writes_through_the_client_and_returns_its_verdict(world: dict[str, Path]) -> None:
    view = finish(world, start(world, acp_profile(world, WRITE_SCRIPT)).run_id)
    outcome = view.outcome
    assert outcome is not None and outcome.status == "ok", outcome
    assert (world["work"] / "hello.txt").read_text() == "hi\n"
    assert isinstance(outcome.decision, Decision) and outcome.decision.verdict == "advance"
    assert outcome.final_text == "Done.\n" + DECISION  # the message after the last tool call, chunks joined
    assert (outcome.input_tokens, outcome.output_tokens) == (300, 70)
    assert outcome.session_id and outcome.session_id.startswith("fake-")
    kinds = [e.kind for e in view.events]
    assert kinds.count("tool_call") == 1 and kinds.count("tool_result") == 1
    result = next(e for e in view.events if e.kind == "tool_result")
    assert result.data["ok"] is True and "hello.txt" in result.data["output"]
    thoughts = [e.data["text"] for e in view.events if e.kind == "thinking"]
    assert thoughts == ["I will write the file", "plan:\n[pending] write hello.txt\n[pending] report"]
    seen = ledger(world)
    init = next(e for e in seen if e["kind"] == "initialize")
    assert (init["client"], init["fs_write"], init["terminal"]) == ("animus", True, False)
    assert next(e for e in seen if e["kind"] == "session/new")["cwd"] == str(world["work"])
    assert next(e for e in seen if e["kind"] == "permission")["option"] == "yes"
    assert next(e for e in seen if e["kind"] == "fs/write_text_file").get("ok") is True
    assert "Create hello.txt" in next(e for e in seen if e["kind"] == "session/prompt")["prompt"]


def test_a_read_only_phase_refuses_the_write_as_it_is_asked(world: dict[str, Path]) -> None:
    handle = start(world, acp_profile(world, WRITE_SCRIPT, read_only=True))
    view = finish(world, handle.run_id)
    assert not (world["work"] / "hello.txt").exists()
    assert next(e for e in ledger(world) if e["kind"] == "permission")["option"] == "no"
    refusals = [e for e in view.events if e.kind == "error"]
    assert refusals and refusals[0].data["fatal"] is False
    assert "permission refused" in refusals[0].data["message"] and "read-only" in refusals[0].data["message"]
    log = (world["runs"] / handle.run_id / "stdout.log").read_text()
    assert '"granted": false' in log and "the phase is read-only" in log  # the refusal is in the run's log
    result = next(e for e in view.events if e.kind == "tool_result")
    assert result.data["ok"] is False
    assert view.outcome is not None and view.outcome.status == "ok"  # the agent ended its turn; the phase judges


def test_a_write_outside_the_worktree_is_refused(world: dict[str, Path]) -> None:
    outside = world["tmp"] / "elsewhere.txt"
    script = {"steps": [{"write": {"path": str(outside), "content": "x"}}, {"message": DECISION}]}
    view = finish(world, start(world, acp_profile(world, script)).run_id)
    assert not outside.exists()
    assert any("outside the worktree" in e.data.get("message", "") for e in view.events if e.kind == "error")


def test_a_bare_permission_request_is_judged_by_what_the_updates_said_of_the_call(world: dict[str, Path]) -> None:
    outside = world["tmp"] / "elsewhere.txt"
    script = {"steps": [{"write": {"path": str(outside), "content": "x", "bare": True}}, {"message": DECISION}]}
    view = finish(world, start(world, acp_profile(world, script)).run_id)
    assert not outside.exists()
    assert next(e for e in ledger(world) if e["kind"] == "permission")["option"] == "no"
    assert any("edit outside the worktree" in e.data.get("message", "") for e in view.events if e.kind == "error")


def test_an_agent_that_ignores_the_refusal_cannot_write_through_the_client(world: dict[str, Path]) -> None:
    script = {"steps": [{"write": {"path": "hello.txt", "content": "hi\n", "force": True}}, {"message": DECISION}]}
    view = finish(world, start(world, acp_profile(world, script, read_only=True)).run_id)
    assert not (world["work"] / "hello.txt").exists()
    assert "error" in next(e for e in ledger(world) if e["kind"] == "fs/write_text_file")
    assert any("file write" in e.data["message"] and "read-only" in e.data["message"] for e in view.events if e.kind == "error")


def test_the_policy_grants_reads_and_refuses_changes_where_it_must(world: dict[str, Path]) -> None:
    policy = _Policy(root=str(world["work"]), read_only=True)
    assert not policy.rule({"kind": "edit", "locations": [{"path": str(world["work"] / "a")}]}).granted
    assert policy.rule({"kind": "read", "locations": [{"path": "/etc/hosts"}]}).granted
    assert not policy.rule({"kind": "execute"}).granted and not policy.rule({}).granted
    free = _Policy(root=str(world["work"]))
    assert free.rule({"kind": "execute"}).granted
    assert free.rule({"kind": "edit", "locations": [{"path": str(world["work"] / "sub" / "f")}]}).granted
    assert not free.rule({"kind": "delete", "locations": [{"path": str(world["work"] / ".." / "f")}]}).granted


def test_a_resumed_run_loads_the_session_and_skips_the_replayed_history(world: dict[str, Path]) -> None:
    first = finish(world, start(world, acp_profile(world, {"steps": [{"message": "first"}]})).run_id)
    sid = first.outcome.session_id if first.outcome else None
    assert sid
    again = acp_profile(world, {"steps": [{"message": "again " + DECISION}]})
    second = finish(world, start(world, again, session=SessionPlan.resume_of(sid)).run_id)
    assert second.outcome is not None and second.outcome.status == "ok"
    assert second.outcome.session_id == sid
    assert [e["session_id"] for e in ledger(world) if e["kind"] == "session/load"] == [sid]
    texts = "".join(e.data["text"] for e in second.events if e.kind == "text")
    assert "replayed" not in texts and texts.startswith("again")


def test_an_agent_without_load_session_starts_anew_and_says_so(world: dict[str, Path]) -> None:
    script = {"steps": [{"message": DECISION}], "load_session": False}
    view = finish(world, start(world, acp_profile(world, script), session=SessionPlan.resume_of("old-1")).run_id)
    assert view.outcome is not None and view.outcome.status == "ok"
    assert view.outcome.session_id != "old-1"
    assert any("cannot load sessions" in e.data["message"] for e in view.events if e.kind == "error")


def test_stopping_a_run_sends_session_cancel_then_ends_it(world: dict[str, Path]) -> None:
    script = {"steps": [{"message": "working"}, {"sleep": 30}], "ignore_sigterm": True}
    handle = start(world, acp_profile(world, script))
    deadline = time.monotonic() + 20
    while not any(e["kind"] == "session/prompt" for e in ledger(world)):
        assert time.monotonic() < deadline, "the agent never got the prompt"
        time.sleep(0.05)
    handle.stop()
    view = finish(world, handle.run_id)
    assert any(e["kind"] == "session/cancel" for e in ledger(world))
    assert view.outcome is not None and view.outcome.status == "killed", view.outcome
    log = (world["runs"] / handle.run_id / "stdout.log").read_text()
    assert '"stopReason": "cancelled"' in log  # the agent ended its turn on session/cancel


def test_an_agent_dying_mid_turn_fails_the_run(world: dict[str, Path]) -> None:
    view = finish(world, start(world, acp_profile(world, {"steps": [{"message": "half"}, {"exit": 3}]})).run_id)
    assert view.outcome is not None and view.outcome.status == "failed"
    assert "session/prompt failed" in view.outcome.reason or "ended without" in view.outcome.reason


def test_acp_needs_a_command_and_a_findable_program(world: dict[str, Path]) -> None:
    with pytest.raises(InvalidInput, match="needs `command:`"):
        start(world, AgentProfile(tool="acp"))
    with pytest.raises(Unavailable, match="not found on PATH"):
        start(world, AgentProfile(tool="acp", command=["no-such-acp-agent-xyz"]))


def test_the_adapter_maps_gemini_acp_lines() -> None:
    # lines as the bridge wrote them for gemini 0.61 --acp (tests/realcli/test_acp.py drives the real one)
    lines = [
        {"acp": "session", "session_id": "s-1", "loaded": False},
        {"acp": "permission", "granted": True, "reason": "allowed within the worktree", "option": "proceed_once",
         "tool_call": {"toolCallId": "w1", "kind": "edit", "status": "pending", "title": "Writing to hello.txt",
                       "locations": [{"path": "/w/hello.txt"}]}},
        {"acp": "fs", "op": "write", "path": "/w/hello.txt", "ok": True, "bytes": 3},
        {"acp": "update", "update": {"toolCallId": "w1", "kind": "edit", "status": "completed",
                                     "content": [{"path": "/w/hello.txt", "oldText": "", "newText": "hi\n", "type": "diff"}],
                                     "sessionUpdate": "tool_call_update"}},
        {"acp": "update", "update": {"content": {"text": "Done.", "type": "text"}, "sessionUpdate": "agent_message_chunk"}},
        {"acp": "prompt_response", "stopReason": "end_turn",
         "_meta": {"quota": {"token_count": {"input_tokens": 320, "output_tokens": 70}}}},
    ]
    adapter = get_adapter("acp")
    events = adapter.parse_lines([json.dumps(line).encode() for line in lines])
    assert [e.kind for e in events] == ["session", "tool_call", "tool_result", "text", "usage", "result"]
    assert events[1].data["name"] == "Writing to hello.txt" and events[1].data["input"]["paths"] == ["/w/hello.txt"]
    outcome = adapter.classify(events, 0, exit_reason="exited")
    assert (outcome.status, outcome.input_tokens, outcome.output_tokens, outcome.final_text) == ("ok", 320, 70, "Done.")


def test_a_program_that_speaks_no_acp_fails_the_handshake(world: dict[str, Path]) -> None:
    view = finish(world, start(world, AgentProfile(tool="acp", command=["/bin/echo", "not json-rpc"])).run_id)
    assert view.outcome is not None and view.outcome.status == "failed"
    assert "ACP handshake failed" in view.outcome.reason and view.outcome.exit_code == 2


def test_stopping_a_run_whose_agent_dies_on_the_sigterm_is_killed_not_failed(world: dict[str, Path]) -> None:
    handle = start(world, acp_profile(world, {"steps": [{"message": "working"}, {"sleep": 30}]}))
    deadline = time.monotonic() + 20
    while not any(e["kind"] == "session/prompt" for e in ledger(world)):
        assert time.monotonic() < deadline, "the agent never got the prompt"
        time.sleep(0.05)
    handle.stop()
    view = finish(world, handle.run_id)
    assert view.outcome is not None and view.outcome.status == "killed", view.outcome
    assert procs.attach(handle.run_id, world["runs"]).state().exit is not None

"""The durable run: one DBOS workflow per run generation, its steps, and its exactly-once transactions.

The loop reads like the workflow it runs: prepare worktree → run phases (gates, rework) → land →
clean up. Every side effect is a step whose body checks the world first (``_steps.py``); every state
change is a datasource transaction, so it commits together with the journal record of that step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from animus.engine import _steps, _txns
from animus.engine._faults import fault_point
from animus.engine._gates import judge_agent, judge_command, judge_manual, route
from animus.engine._plan import skip_reason

WORKFLOW_NAME = "animus.run.v1"
RESUMABLE_TOOLS = frozenset({"claude", "codex", "opencode", "scripted"})
MAX_RATE_LIMIT_WAITS = 20
FOREVER_SECS = 10 * 365 * 24 * 3600


class _Registered:
    """The decorated callables, made once per process by ``register`` (DBOS needs them before launch)."""

    workflow: Callable[..., Any] | None = None
    steps: dict[str, Callable[..., Any]] = {}


def _durable(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        fault_point(name, "before")
        result = fn(*args, **kwargs)
        fault_point(name, "after")
        return result

    return call


def register(ds: Any, context: Callable[[], _steps.EngineContext]) -> Callable[..., Any]:
    """Declare the run workflow, its steps and transactions with DBOS (idempotent per process)."""
    if _Registered.workflow is not None:
        return _Registered.workflow
    from dbos import DBOS

    def step(name: str, fn: Callable[..., Any], **opts: Any) -> Callable[..., Any]:
        return _durable(name, DBOS.step(name=name, **opts)(fn))

    def tx(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def body(*args: Any) -> Any:
            return fn(_txns.session_conn(ds), *args)

        body.__name__ = body.__qualname__ = name
        return _durable(name, ds.transaction(name=name)(body))

    s: dict[str, Callable[..., Any]] = {
        "load": step("animus.load", lambda run_id: _txns.load_run(context(), run_id)),
        "now": step("animus.now", lambda: time.time()),
        "worktree": step("animus.worktree", lambda task_id, target: _steps.prepare_worktree(context(), task_id, target)),
        "launch": step("animus.agent.launch", lambda *a: _steps.launch_agent(context(), *a)),
        "await": step("animus.agent.await", lambda arid: _steps.await_agent(context(), arid)),
        "commit": step("animus.git.commit", lambda *a: _steps.commit_changes(context(), *a)),
        "command": step("animus.command", lambda *a: _steps.run_command(context(), *a)),
        "land": step("animus.land", lambda *a: _steps.land(context(), *a)),
        "cleanup": step("animus.cleanup", lambda *a: _steps.cleanup(context(), *a)),
        "begin": tx("animus.tx.begin", _txns.begin),
        "phase_start": tx("animus.tx.phase_start", _txns.phase_start),
        "phase_agent": tx("animus.tx.phase_agent", _txns.phase_agent),
        "waiting": tx("animus.tx.waiting", _txns.waiting),
        "phase_end": tx("animus.tx.phase_end", _txns.phase_end),
        "complete": tx("animus.tx.complete", _txns.complete),
        "stop": tx("animus.tx.stop", _txns.stop),
    }
    _Registered.steps = s

    @DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=1000)
    def run_workflow(run_id: str) -> dict[str, Any]:
        return _run(s, run_id)

    _Registered.workflow = run_workflow
    return run_workflow


def _run(s: dict[str, Callable[..., Any]], run_id: str) -> dict[str, Any]:
    info = s["load"](run_id)
    if info["status"] not in ("pending", "running", "waiting_manual"):
        return {"run_id": run_id, "status": info["status"]}
    plan, task, state = info["plan"], info["task"], info["state"]
    phases = plan["phases"]
    worktree = s["worktree"](task["id"], (plan.get("merge") or {}).get("target_branch"))
    s["begin"](run_id, worktree)
    index = int(info["phase_index"])
    while True:
        while index < len(phases):
            phase = phases[index]
            attempt = int(state.get("attempts", {}).get(phase["id"], 0)) + 1
            why_skip = skip_reason(phase, task)
            if why_skip:
                seq = s["phase_start"](run_id, index, phase["id"], attempt, phase["mode"], "skipped")["seq"]
                judged: dict[str, Any] = {"source": "skip_if", "verdict": "skip", "effective": "skip", "reason": why_skip,
                          "confidence": None, "risk": None, "evidence": []}
                out = s["phase_end"](run_id, seq, index, attempt, judged, route(plan, index, judged, state), {})
                state, index = out["state"], index + 1
                continue
            first_agent_run = agent_run_id(run_id, phase["id"], attempt, 1) if phase["mode"] == "agent" else None
            seq = s["phase_start"](run_id, index, phase["id"], attempt, phase["mode"], "running", first_agent_run)["seq"]
            if phase["mode"] == "agent":
                result = _agent_phase(s, run_id, plan, phase, task, state, worktree, seq, attempt)
                judged = judge_agent(phase, result)
            elif phase["mode"] == "command":
                result = s["command"](phase, worktree["path"], plan.get("variables") or {})
                judged = judge_command(result)
            else:
                result = _manual_phase(s, run_id, phase, seq, attempt)
                judged = judge_manual(result)
            routed = route(plan, index, judged, state)
            out = s["phase_end"](run_id, seq, index, attempt, judged, routed, _summary(result))  # decision + state, one tx
            state = out["state"]
            if routed["action"] == "stop" or out["status"] == "cancelled":
                return {"run_id": run_id, "status": out["status"]}
            index = int(routed["next_index"])
        landed = s["land"](plan, task, worktree, run_id)
        if landed["status"] in ("merged", "already_merged", "pr", "skipped"):
            s["complete"](run_id, landed)
            s["cleanup"](plan, worktree)
            return {"run_id": run_id, "status": "completed", "landed": landed}
        if landed["status"] == "dirty_target":
            out = s["stop"](run_id, "failed", landed.get("reason") or "the target branch's checkout has uncommitted changes")
            return {"run_id": run_id, "status": out["status"]}
        routed = _conflict_route(plan, state)
        out = s["stop"](run_id, "merge_conflict", "landing conflicted in " + ", ".join(landed["conflict_files"]), landed, routed)
        if routed["action"] == "stop" or out["status"] == "cancelled":
            return {"run_id": run_id, "status": out["status"]}
        state, index = out["state"], int(routed["next_index"])


def agent_run_id(run_id: str, phase_id: str, attempt: int, try_number: int) -> str:
    """``<run>-<phase>-<attempt>`` for the first try of a phase attempt, ``….<n>`` for retries."""
    return f"{run_id}-{phase_id}-{attempt}" + ("" if try_number == 1 else f".{try_number}")


def _conflict_route(plan: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """A merge conflict goes back to the first agent phase while its rework budget lasts."""
    target = next((p for p in plan["phases"] if p["mode"] == "agent"), None)
    used = int(state.get("conflict_reworks", 0))
    if target is None or used >= int(target["max_rework_attempts"]):
        return {"action": "stop", "next_index": len(plan["phases"]), "status": "merge_conflict", "target_phase": None}
    return {"action": "rework", "next_index": int(target["index"]), "status": None, "target_phase": target["id"]}


def _agent_phase(
    s: dict[str, Callable[..., Any]],
    run_id: str,
    plan: dict[str, Any],
    phase: dict[str, Any],
    task: dict[str, Any],
    state: dict[str, Any],
    worktree: dict[str, Any],
    seq: int,
    attempt: int,
) -> dict[str, Any]:
    """Launch, await, and retry an agent: errors back off, a died agent resumes its session, a rate
    limit parks the run in a durable sleep until the reported reset, a missing decision is asked for once."""
    from dbos import DBOS

    agent = phase["agent"]
    max_tries = int(agent.get("max_attempts", 3))
    tries = rate_waits = 0
    session_id: str | None = None
    resume = decision_only = False
    usage = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    runs: list[str] = []
    while True:
        tries += 1
        this_run = agent_run_id(run_id, phase["id"], attempt, len(runs) + 1)
        if runs:  # the phase row names the first agent run already (phase_start); record retries
            s["phase_agent"](run_id, seq, this_run)
        launched = s["launch"](plan | {"run_id": run_id}, phase, task, state, worktree["path"], this_run, session_id, resume, decision_only)
        runs.append(this_run)
        out = s["await"](this_run)
        session_id = out.get("session_id") or launched.get("session_id") or session_id
        usage["input_tokens"] += int(out.get("input_tokens") or 0)
        usage["output_tokens"] += int(out.get("output_tokens") or 0)
        usage["cost_usd"] += float(out.get("cost_usd") or 0.0)
        can_resume = bool(session_id) and agent["tool"] in RESUMABLE_TOOLS
        if out["status"] == "rate_limited" and rate_waits < MAX_RATE_LIMIT_WAITS:
            rate_waits += 1
            tries -= 1
            now = s["now"]()
            DBOS.sleep(max(1.0, float(out.get("resets_at") or now + 60) - now))
            resume = can_resume
            continue
        if out["status"] == "ok":
            if out.get("decision"):
                commit = s["commit"](worktree["path"], _commit_message(task, phase, out), this_run, worktree["base_sha"])
                return {**out, **usage, "commit_sha": commit["sha"], "agent_runs": runs}
            if not decision_only:
                decision_only, resume, tries = True, can_resume, tries - 1
                continue
            return {**out, **usage, "status": "failed", "agent_runs": runs,
                    "reason": f"no phase decision, also when asked again: {out.get('no_decision_reason')}"}
        if tries >= max_tries:
            return {**out, **usage, "status": "failed", "agent_runs": runs,
                    "reason": f"agent failed {tries} time(s); last: {out.get('reason')}"}
        resume = out["status"] == "killed" and can_resume
        DBOS.sleep(min(60.0, 2.0 ** (tries - 1)))


def _manual_phase(s: dict[str, Callable[..., Any]], run_id: str, phase: dict[str, Any], seq: int, attempt: int) -> dict[str, Any]:
    from dbos import DBOS

    s["waiting"](run_id, seq)
    timeout = (phase.get("manual") or {}).get("timeout_secs") or FOREVER_SECS
    message = DBOS.recv(topic=f"gate:{phase['id']}:{attempt}", timeout_seconds=float(timeout))
    if message is None:
        return {"approved": False, "timed_out": True}
    return {"approved": bool(message.get("approve")), "note": message.get("note") or "", "by": message.get("by") or "cli"}


def _commit_message(task: dict[str, Any], phase: dict[str, Any], out: dict[str, Any]) -> str:
    decision = out.get("decision") or {}
    first = (decision.get("reason") or task["title"]).strip().splitlines()[0][:72]
    return f"{phase['id']}: {first}\n\nTask: {task['id']} {task['title'].splitlines()[0][:100]}"


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a phase row keeps of a result: tokens, cost, commit, an output excerpt, rework context."""
    text = result.get("final_text") or result.get("excerpt") or result.get("note") or ""
    return {
        "input_tokens": int(result.get("input_tokens") or 0),
        "output_tokens": int(result.get("output_tokens") or 0),
        "cost_usd": float(result.get("cost_usd") or 0.0),
        "commit_sha": result.get("commit_sha"),
        "excerpt": text[-4000:] if text else None,
        "failing_tests": result.get("failing_tests") or [],
    }

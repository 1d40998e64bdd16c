"""The durable run: one DBOS workflow per run generation, and the loop it runs.

The loop reads like the workflow it runs: prepare worktree → run phases (gates, rework) → land (or
go back for rework after a conflict) → clean up. Every side effect is a step of ``Steps`` whose body
checks the world first (``_steps.py``); every state change is a datasource transaction, so it
commits together with the journal record of that step (``_txns.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from animus import agents
from animus.domain.runs import ACTIVE_RUN_STATUSES, PhaseStatus, RunStatus, phase_attempt_id
from animus.engine import _limits
from animus.engine._budgets import _await_budget, _BudgetWatch
from animus.engine._durable import _Steps
from animus.engine._gates import (
    _budget_route,
    _conflict_route,
    _judge_skipped,
    judge_agent,
    judge_command,
    judge_manual,
    route,
)
from animus.engine._plan import _skip_reason
from animus.engine._pr_gate import _after_merge, _escalation_comment, _escalation_marker, _loop_of, _pr_topic, decide_pr
from animus.engine._types import (
    Judgement,
    PhaseSpec,
    Plan,
    RunState,
    TaskSnapshot,
    _AgentLaunch,
    _AgentPhaseResult,
    _Landing,
    _ManualResult,
    _PhaseResult,
    _PhaseSummary,
    _PrObservation,
    _RunResult,
    _Worktree,
)

_WORKFLOW_NAME = "animus.run.v1"
_MAX_RATE_LIMIT_WAITS = 20
_MAX_WAKES_AT_ONCE = 50  # webhook messages taken together after a wait (more: the next look takes them)
_FOREVER_SECS = 10 * 365 * 24 * 3600
_LANDED = frozenset({"merged", "already_merged", "nothing_to_land", "pr", "skipped"})


class _Registered:
    """The workflow and its steps, made once per process by ``register`` (DBOS needs them before launch)."""

    workflow: Callable[[str], _RunResult] | None = None
    steps: _Steps | None = None


def _register(ds: Any, context: Callable[[], Any]) -> Callable[[str], _RunResult]:
    """Declare the run workflow, its steps and transactions with DBOS (idempotent per process)."""
    if _Registered.workflow is not None:
        return _Registered.workflow
    from dbos import DBOS

    steps = _Steps(ds, context)

    @DBOS.workflow(name=_WORKFLOW_NAME, max_recovery_attempts=1000)
    def run_workflow(run_id: str) -> _RunResult:
        steps.claim(run_id)  # not a step: every execution, on whichever daemon dequeued it, claims the run
        return _run(steps, run_id)

    _Registered.workflow, _Registered.steps = run_workflow, steps
    return run_workflow


@dataclass(frozen=True)
class _Run:
    """What the loop keeps in memory for one run: all of it read from recorded step values."""

    id: str
    plan: Plan
    task: TaskSnapshot
    worktree: _Worktree


def _run(steps: _Steps, run_id: str) -> _RunResult:
    loaded = steps.load(run_id)
    if RunStatus(loaded["status"]) not in ACTIVE_RUN_STATUSES:
        return {"run_id": run_id, "status": loaded["status"]}
    plan, task = loaded["plan"], loaded["task"]
    merge = plan["merge"]
    recorded = steps.prepare_worktree(task_id=task["id"], target_branch=merge["target_branch"] if merge else None)
    worktree = steps.localize(recorded, task_id=task["id"])  # on the host running it now (after a takeover: re-made)
    steps.begin(run_id, worktree=worktree)
    run = _Run(run_id, plan, task, worktree)
    state, index = loaded["state"], int(loaded["phase_index"])
    while True:
        state, stopped = _run_phases(steps, run, state, index)
        if stopped is not None:
            return {"run_id": run_id, "status": stopped}
        landed = steps.land(plan=plan, task=task, worktree=worktree, run_id=run_id)
        if landed["status"] == "pr" and merge and merge.get("pr_loop"):
            waited = _await_pr(steps, run, landed)
            if waited.status == RunStatus.RUNNING:  # the PR asked for a rework: back to a phase, then land (push) again
                state, index = waited.state, int(waited.next_index)
                continue
            if waited.status == RunStatus.COMPLETED:
                steps.cleanup(plan=plan, worktree=worktree, merged=True)
            return {"run_id": run_id, "status": waited.status.value}
        if landed["status"] in _LANDED:
            steps.complete(run_id, landed=landed)
            steps.cleanup(plan=plan, worktree=worktree)
            return {"run_id": run_id, "status": RunStatus.COMPLETED.value, "landed": landed}
        if landed["status"] == "dirty_target":
            reason = landed.get("reason") or "the target branch's checkout has uncommitted changes"
            return {"run_id": run_id, "status": steps.stop(run_id, status=RunStatus.FAILED, reason=reason)["status"]}
        # A conflict: back to the first agent phase while the conflict budget lasts, then land again.
        routed = _conflict_route(plan, state)
        reason = "landing conflicted in " + ", ".join(landed["conflict_files"])
        out = steps.stop(run_id, status=RunStatus.MERGE_CONFLICT, reason=reason, landed=landed, routed=routed)
        if routed["action"] == "stop" or out["status"] == RunStatus.CANCELLED:
            return {"run_id": run_id, "status": out["status"]}
        state, index = out.get("state", state), int(routed["next_index"])


@dataclass(frozen=True)
class _Waited:
    """How a wait on the pull request ended: a terminal status, or ``running`` with where the rework starts."""

    status: RunStatus
    state: RunState
    next_index: int = 0


def _await_pr(steps: _Steps, run: _Run, landed: _Landing) -> _Waited:
    """Wait on the open PR: look, decide, act (merge / comment / rework), else sleep until a webhook or the poll wakes it.

    A look whose decision matches the last one recorded in this wait is not recorded again, so a PR
    that waits for days on a review adds one decision row, not one per poll.
    """
    from dbos import DBOS

    moved = steps.pr_wait(run.id, landed=landed)
    state = moved.get("state") or {}
    if moved["status"] != RunStatus.WAITING_PR or "pr" not in state:
        return _Waited(RunStatus(moved["status"]), state)
    memory = state["pr"]
    previous: _PrObservation | None = None
    recorded: tuple[str, str, str | None] | None = None
    while True:
        seen = steps.pr_observe(plan=run.plan, number=memory["number"])
        decided = decide_pr(run.plan, seen, memory, previous)
        previous = seen
        if decided["action"] == "merge":
            assert decided["head_sha"], "a merge decision names the head it was decided on"
            merged = steps.pr_merge(plan=run.plan, number=memory["number"], sha=decided["head_sha"],
                                    method=_loop_of(run.plan)["merge_method"])
            decided = _after_merge(run.plan, decided, merged)
        if decided["action"] == "escalate":  # the comment first: a crash after it finds the marker, never posts twice
            commented = steps.pr_comment(plan=run.plan, number=memory["number"], marker=_escalation_marker(run.id),
                                         body=_escalation_comment(run.id, decided["reason"]))
            if commented.get("error"):
                decided["evidence"].append({"kind": "comment_failed", "description": str(commented["error"])})
        key = (decided["action"], decided["seen"], decided["head_sha"])
        if decided["action"] != "wait" or key != recorded:
            out = steps.pr_decision(run.id, decided=decided)
            recorded, state = key, out.get("state") or state
            memory = state.get("pr") or memory
            if out["status"] != RunStatus.WAITING_PR:
                return _Waited(RunStatus(out["status"]), state, int(decided["next_index"] or 0))
        woke = DBOS.recv(topic=_pr_topic(run.id), timeout_seconds=max(1.0, float(decided["wait_secs"])))  # any message: look again
        for _ in range(_MAX_WAKES_AT_ONCE):  # a burst of deliveries (each check of a suite) is one look, not one each
            if woke is None:
                break
            woke = DBOS.recv(topic=_pr_topic(run.id), timeout_seconds=0)


def _run_phases(steps: _Steps, run: _Run, state: RunState, index: int) -> tuple[RunState, str | None]:
    """Run phases from ``index`` to the end, following the gates; the state, and a status if the run stopped."""
    phases = run.plan["phases"]
    while index < len(phases):
        phase = phases[index]
        attempt = int(state.get("attempts", {}).get(phase["id"], 0)) + 1
        why_skip = _skip_reason(phase, run.task)
        if why_skip:
            seq = steps.phase_start(run.id, index=index, phase_id=phase["id"], attempt=attempt, mode=phase["mode"],
                                    status=PhaseStatus.SKIPPED)["seq"]
            judged = _judge_skipped(why_skip)
            out = steps.phase_end(run.id, seq=seq, index=index, attempt=attempt, judged=judged,
                                  routed=route(run.plan, index, judged, state), summary=_summary(None))
            state, index = out.get("state", state), index + 1
            continue
        if phase["mode"] == "agent" and run.plan.get("budgeted"):  # a spent budget parks the run before its agent starts
            stopped = _await_budget(steps, run.id, task_id=run.task["id"], workflow=run.plan["workflow"])
            if stopped is not None:
                return state, stopped
        first_agent_run = _agent_run_id(run.id, phase["id"], attempt, 1) if phase["mode"] == "agent" else None
        seq = steps.phase_start(run.id, index=index, phase_id=phase["id"], attempt=attempt, mode=phase["mode"],
                                status=PhaseStatus.RUNNING, agent_run_id=first_agent_run)["seq"]
        result, judged = _run_phase(steps, run, phase, state, seq, attempt)
        routed = route(run.plan, index, judged, state)
        if result.get("status") == "budget_exceeded":  # the check before its next attempt parks the run, or fails it
            routed = _budget_route(index)
        out = steps.phase_end(run.id, seq=seq, index=index, attempt=attempt, judged=judged, routed=routed,
                              summary=_summary(result))  # decision + state, one transaction
        state = out.get("state", state)
        if routed["action"] == "stop" or out["status"] == RunStatus.CANCELLED:
            return state, out["status"]
        index = int(routed["next_index"])
    return state, None


def _run_phase(steps: _Steps, run: _Run, phase: PhaseSpec, state: RunState, seq: int, attempt: int) -> tuple[_PhaseResult, Judgement]:
    if phase["mode"] == "agent":
        agent_result = _agent_phase(steps, run, phase, state, seq, attempt)
        judged = judge_agent(phase, agent_result)
        if agent_result.get("fallback"):  # the decision history says who actually ran the phase, and why
            switched = agent_result["fallback"]
            judged = {**judged, "reason": f"{judged['reason']} [ran on fallback agent {switched['to']} instead of "
                                          f"{switched['from']}: {switched['why']}]"}
        return agent_result, judged
    if phase["mode"] == "command":
        command_result = steps.run_command(phase=phase, worktree=run.worktree["path"], variables=run.plan.get("variables") or {},
                                           attempt_id=phase_attempt_id(run.id, phase["id"], attempt))
        return command_result, judge_command(command_result)
    manual_result = _manual_phase(steps, run.id, phase, seq, attempt)
    return manual_result, judge_manual(manual_result)


def _agent_run_id(run_id: str, phase_id: str, attempt: int, try_number: int) -> str:
    """``<run>-<phase>-<attempt>`` for the first try of a phase attempt, ``….<n>`` for retries."""
    return phase_attempt_id(run_id, phase_id, attempt) + ("" if try_number == 1 else f".{try_number}")


def _agent_phase(steps: _Steps, run: _Run, phase: PhaseSpec, state: RunState, seq: int, attempt: int) -> _AgentPhaseResult:
    """Launch, await, and retry an agent: errors back off, a died agent resumes its session, a rate
    limit parks the run in a durable sleep until the reported reset, a missing decision is asked for once."""
    from dbos import DBOS

    own = phase
    fallbacks = list(phase.get("fallbacks") or [])
    fallback: dict[str, str] | None = None  # {from, to, why} once a fallback agent runs the phase
    agent = phase["agent"]
    assert agent is not None, f"agent phase {phase['id']} has no agent in its plan"
    resumable = agents.get_adapter(agent["tool"]).resumable
    max_tries = int(agent.get("max_attempts", 3))
    tries = rate_waits = 0
    session_id: str | None = None
    baseline: str | None = None  # the worktree before the attempt's first agent run (read_only, require_changes)
    resume = decision_only = False
    usage = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    cost_known = True  # False once a run's tokens had no price: the phase's cost is then a floor, shown as unknown
    runs: list[str] = []
    while True:
        tries += 1
        this_run = _agent_run_id(run.id, phase["id"], attempt, len(runs) + 1)
        if runs:  # the phase row names the first agent run already (phase_start); record retries
            steps.phase_agent(run.id, seq=seq, agent_run_id=this_run)
        launched = steps.launch_agent(_AgentLaunch(
            plan=run.plan, run_id=run.id, phase=phase, task=run.task, state=state, worktree=run.worktree["path"],
            agent_run_id=this_run, session_id=session_id, resume=resume, decision_only=decision_only,
        ))
        if launched.get("paused_until") is not None:  # the provider is paused: nothing started
            tries -= 1
            why = f"{launched.get('provider')} is paused by a usage limit"
            if fallbacks:
                phase, fallback = _on_fallback(own, fallbacks.pop(0), why, fallback)
                agent = phase["agent"] or agent
                resumable, max_tries = agents.get_adapter(agent["tool"]).resumable, int(agent.get("max_attempts", 3))
                session_id, resume, tries = None, False, 0
                continue
            now = steps.now()
            DBOS.sleep(min(_limits._RECHECK_SECS, max(1.0, float(launched["paused_until"]) - now + 1.0)))
            continue
        runs.append(this_run)
        if launched.get("error"):
            return {"status": "failed", "reason": launched["error"], "decision": None, "agent_runs": runs,
                    "input_tokens": int(usage["input_tokens"]), "output_tokens": int(usage["output_tokens"]),
                    "cost_usd": float(usage["cost_usd"]), "cost_known": cost_known}
        if len(runs) == 1:
            baseline = launched.get("worktree_tree")
        watch: _BudgetWatch | None = None
        if run.plan.get("budgeted"):  # its spend is watched while it runs: crossing a limit stops it
            watch = {"run_id": run.id, "task_id": run.task["id"], "workflow": run.plan["workflow"],
                     "phase_usd": float(usage["cost_usd"]), "phase_tokens": int(usage["input_tokens"] + usage["output_tokens"])}
        out = steps.await_agent(this_run, model=agent.get("model"),
                                provider=_limits.provider_key(agent) if run.plan.get("limits") else None, budget=watch)
        session_id = out.get("session_id") or launched.get("session_id") or session_id
        usage["input_tokens"] += int(out.get("input_tokens") or 0)
        usage["output_tokens"] += int(out.get("output_tokens") or 0)
        usage["cost_usd"] += float(out.get("cost_usd") or 0.0)
        cost_known = cost_known and (out.get("cost_usd") is not None or not (out.get("input_tokens") or out.get("output_tokens")))
        summed: dict[str, Any] = {"input_tokens": int(usage["input_tokens"]), "output_tokens": int(usage["output_tokens"]),
                                  "cost_usd": float(usage["cost_usd"]), "cost_known": cost_known,
                                  "agent_id": phase.get("agent_id")}
        if fallback is not None:
            summed["fallback"] = fallback
        can_resume = bool(session_id) and resumable
        if out["status"] == "budget_exceeded":  # stopped mid-phase: the phase ends here, its spend counted
            return {**out, **summed, "agent_runs": runs}  # type: ignore[typeddict-item]
        if out["status"] == "rate_limited" and rate_waits < _MAX_RATE_LIMIT_WAITS:
            rate_waits += 1
            tries -= 1
            if fallbacks and run.plan.get("limits"):  # recorded: the next launch finds the pause and moves on
                resume = False
                continue
            now = steps.now()
            DBOS.sleep(max(1.0, float(out.get("resets_at") or now + 60) - now))
            resume = can_resume
            continue
        if out["status"] == "ok":
            if out.get("decision"):
                message = _commit_message(run.task, phase, out.get("decision") or {})
                read_only = bool(phase.get("read_only"))
                commit = steps.commit(worktree=run.worktree["path"], message=message, agent_run_id=this_run,
                                      base_sha=run.worktree["base_sha"], baseline_tree=baseline, read_only=read_only)
                if commit.get("lost"):  # taken over: the attempt's edits stayed on the host that was lost
                    if tries >= max_tries:
                        return {**out, **summed, "status": "failed", "agent_runs": runs,  # type: ignore[typeddict-item]
                                "reason": f"agent failed {tries} time(s); last: its changes were lost with its host"}
                    resume = False
                    DBOS.sleep(min(60.0, 2.0 ** (tries - 1)))
                    continue
                result: _AgentPhaseResult = {**out, **summed, "commit_sha": commit["sha"], "agent_runs": runs}  # type: ignore[typeddict-item]
                if "changed_paths" in commit:
                    result["changed_paths"] = commit["changed_paths"]
                if read_only and commit.get("changed_paths"):
                    return {**result, "status": "failed", "reason": _read_only_violation(phase, commit["changed_paths"], run)}
                return result
            if not decision_only:
                decision_only, resume, tries = True, can_resume, tries - 1
                continue
            return {**out, **summed, "status": "failed", "agent_runs": runs,  # type: ignore[typeddict-item]
                    "reason": f"no phase decision, also when asked again: {out.get('no_decision_reason')}"}
        if tries >= max_tries and fallbacks and run.plan.get("limits"):  # a provider error, not a verdict: next agent
            why = f"{phase.get('agent_id')} failed {tries} time(s); last: {out.get('reason')}"
            phase, fallback = _on_fallback(own, fallbacks.pop(0), why, fallback)
            agent = phase["agent"] or agent
            resumable, max_tries = agents.get_adapter(agent["tool"]).resumable, int(agent.get("max_attempts", 3))
            session_id, resume, tries, decision_only = None, False, 0, False
            continue
        if tries >= max_tries:
            return {**out, **summed, "status": "failed", "agent_runs": runs,  # type: ignore[typeddict-item]
                    "reason": f"agent failed {tries} time(s); last: {out.get('reason')}"}
        resume = out["status"] == "killed" and can_resume
        DBOS.sleep(min(60.0, 2.0 ** (tries - 1)))


def _on_fallback(own: PhaseSpec, to: dict[str, Any], why: str, before: dict[str, str] | None) -> tuple[PhaseSpec, dict[str, str]]:
    """The phase as its next fallback agent runs it, and the record of the switch (which agent, and why)."""
    profile = {k: v for k, v in to.items() if k != "id"}
    first = before["from"] if before else str(own.get("agent_id"))
    return {**own, "agent": profile, "agent_id": str(to["id"])}, {"from": first, "to": str(to["id"]), "why": why}


def _read_only_violation(phase: PhaseSpec, paths: list[str], run: _Run) -> str:
    shown = ", ".join(paths[:20]) + (f" (and {len(paths) - 20} more)" if len(paths) > 20 else "")
    return (f"read-only phase {phase['id']} changed the worktree: {shown}; the changes are left uncommitted in "
            f"{run.worktree['path']} (discard them there before resuming, or the next agent phase commits them)")


def _manual_phase(steps: _Steps, run_id: str, phase: PhaseSpec, seq: int, attempt: int) -> _ManualResult:
    from dbos import DBOS

    steps.waiting(run_id, seq=seq)
    manual = phase["manual"]
    timeout = (manual["timeout_secs"] if manual else None) or _FOREVER_SECS
    message = DBOS.recv(topic=_gate_topic(phase["id"], attempt), timeout_seconds=float(timeout))
    if message is None:
        return {"approved": False, "timed_out": True}
    return {"approved": bool(message.get("approve")), "note": message.get("note") or "", "by": message.get("by") or "cli"}


def _gate_topic(phase_id: str, attempt: int) -> str:
    """The DBOS message topic a manual gate of ``phase_id`` waits on in its ``attempt``."""
    return f"gate:{phase_id}:{attempt}"


def _commit_message(task: TaskSnapshot, phase: PhaseSpec, decision: dict[str, Any]) -> str:
    first = (decision.get("reason") or task["title"]).strip().splitlines()[0][:72]
    return f"{phase['id']}: {first}\n\nTask: {task['id']} {task['title'].splitlines()[0][:100]}"


def _summary(result: _PhaseResult | None) -> _PhaseSummary:
    """What a phase row keeps of a result: tokens, cost, commit, an output excerpt, rework context."""
    found: dict[str, Any] = dict(result or {})
    text = found.get("final_text") or found.get("excerpt") or found.get("note") or ""
    return {
        "input_tokens": int(found.get("input_tokens") or 0),
        "output_tokens": int(found.get("output_tokens") or 0),
        "cost_usd": float(found.get("cost_usd") or 0.0),
        "cost_known": bool(found.get("cost_known", True)),
        "agent": found.get("agent_id"),
        "model": found.get("model"),
        "commit_sha": found.get("commit_sha"),
        "excerpt": text[-4000:] if text else None,
        "failing_tests": found.get("failing_tests") or [],
    }

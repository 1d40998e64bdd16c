"""The durable workflow engine (DBOS): the phase loop, gates, rework, landing; crash-safe at every step."""

from animus.engine._control import (
    cancel_run,
    decide_gate,
    prepare_retry,
    reopen_for_resume,
    require_phase,
    wake_budget_run,
    wake_pr_run,
)
from animus.engine._executor import (
    RunFollower,
    choose_workflow,
    execute_run,
    fail_run_on_error,
    parse_vars,
    prepare_run,
    workflow_error,
)
from animus.engine._fleet import stop_agents_of_runs, take_over
from animus.engine._gates import judge_agent, judge_command, judge_manual, route
from animus.engine._limits import clock_now, dispatchable, first_agent_providers, paused_until, provider_key
from animus.engine._plan import build_plan, profile_from_plan
from animus.engine._pr_gate import decide_pr
from animus.engine._prompts import render_prompt
from animus.engine._runqueue import QUEUE_NAME, RunQueue, WorkflowCheck
from animus.engine._runtime import ENGINE_VERSION, ExecutorLock, executor_id, start_engine, stop_engine
from animus.engine._steps import EngineContext
from animus.engine._stepstore import (
    STEPSTORE_APP,
    STEPSTORE_VERSION,
    BegunStep,
    InFlightRun,
    ReplayedStep,
    ReplayState,
    StepJournal,
    step_id_of,
)
from animus.engine._types import (
    Judgement,
    PhaseSpec,
    Plan,
    Route,
    RunState,
    TaskSnapshot,
    plan_of,
    state_of,
    task_snapshot,
)

__all__ = [
    "ENGINE_VERSION",
    "QUEUE_NAME",
    "STEPSTORE_APP",
    "STEPSTORE_VERSION",
    "BegunStep",
    "EngineContext",
    "ExecutorLock",
    "InFlightRun",
    "Judgement",
    "PhaseSpec",
    "Plan",
    "ReplayState",
    "ReplayedStep",
    "Route",
    "RunFollower",
    "RunQueue",
    "RunState",
    "StepJournal",
    "TaskSnapshot",
    "WorkflowCheck",
    "build_plan",
    "cancel_run",
    "choose_workflow",
    "clock_now",
    "decide_gate",
    "decide_pr",
    "dispatchable",
    "execute_run",
    "executor_id",
    "fail_run_on_error",
    "first_agent_providers",
    "judge_agent",
    "judge_command",
    "judge_manual",
    "parse_vars",
    "paused_until",
    "plan_of",
    "prepare_retry",
    "prepare_run",
    "profile_from_plan",
    "provider_key",
    "render_prompt",
    "reopen_for_resume",
    "require_phase",
    "route",
    "start_engine",
    "state_of",
    "step_id_of",
    "stop_agents_of_runs",
    "stop_engine",
    "take_over",
    "task_snapshot",
    "wake_budget_run",
    "wake_pr_run",
    "workflow_error",
]

"""The named values a run carries between its durable steps: plan, phase, worktree, outcomes, judgements, routes.

They are TypedDicts on purpose: DBOS pickles each step's return value into the journal, and a
TypedDict is a plain ``dict`` at run time, so what one engine build recorded stays readable by the
next (tests/engine/test_journal_replay.py replays a journal recorded before these types existed).
Enums that travel in them (``Verdict``) are ``StrEnum``s and compare equal to the recorded strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast

from animus.domain.runs import Verdict

if TYPE_CHECKING:
    from animus.domain.runs import WorkflowRun
    from animus.domain.tasks import Task

_PhaseMode = Literal["agent", "command", "manual"]
_RouteAction = Literal["next", "rework", "stop", "retry"]  # retry: the same phase again (budget_exceeded)


class _DecisionContract(TypedDict):
    min_confidence: float
    max_risk: str
    required_evidence: list[str]


class _CommandSpec(TypedDict):
    argv: list[str]
    cwd: Literal["worktree", "project"]
    timeout_secs: int
    success_exit_codes: list[int]
    env: dict[str, str]


class _ManualSpec(TypedDict):
    instructions: str
    timeout_secs: int | None


class _PrLoopSpec(TypedDict):
    """``post_success.merge.pr_loop``: what a run does once its pull request is open (``config.PrLoopConfig``)."""

    max_reworks: int
    wait_for_checks: bool
    auto_merge: bool
    merge_method: Literal["merge", "squash", "rebase"]
    require_approval: bool
    poll_secs: float
    rework_phase: str | None


class _MergeSpec(TypedDict):
    strategy: Literal["merge", "squash", "rebase"]
    target_branch: str | None
    create_pr: bool
    cleanup_worktree: bool
    pr_loop: NotRequired[_PrLoopSpec | None]  # absent (plans before issue 14) or None: the run ends when its PR is open
    github_repo: NotRequired[str | None]  # owner/name; absent or None: the one the remote names
    github_api_url: NotRequired[str | None]  # absent or None: $GITHUB_API_URL, else the remote's GitHub
    github_token_env: NotRequired[str | None]  # absent or None: GITHUB_TOKEN


class PhaseSpec(TypedDict):
    """One entry of a plan: the phase as configured when the run was created."""

    index: int
    id: str
    mode: _PhaseMode
    directive: str | None
    decision_contract: _DecisionContract
    rework_target: str | None
    skip_if: list[str]
    max_rework_attempts: int
    agent_id: str | None
    agent: dict[str, Any] | None  # the agent profile, field for field (``profile_from_plan`` reads it)
    command: _CommandSpec | None
    manual: _ManualSpec | None
    require_changes: NotRequired[bool]  # absent in plans made before issue 11: false
    read_only: NotRequired[bool]
    fallbacks: NotRequired[list[dict[str, Any]]]  # the fallback agents' profiles, each with its "id", in order


class Plan(TypedDict):
    """The workflow frozen for one run (``_plan.build_plan``); the run executes this, not the live config."""

    workflow: str
    description: str | None
    phases: list[PhaseSpec]
    merge: _MergeSpec | None
    variables: dict[str, str]
    budgeted: NotRequired[bool]  # a budget applied when the run was made: agent phases check spend first
    limits: NotRequired[bool]  # made after provider pauses existed: agent attempts check the provider first


class TaskSnapshot(TypedDict):
    """The task as the run read it once (``Task.to_dict``)."""

    id: str
    title: str
    description: str
    type: str
    priority: str
    status: str
    dependencies: list[str]
    labels: list[str]
    workflow: str | None
    blocked_reason: str | None
    created_at: str
    updated_at: str


class _PrCheck(TypedDict):
    """A check run that failed on the pull request's head commit, as the agent is shown it."""

    name: str
    conclusion: str | None
    title: str
    summary: str
    text: str  # an excerpt: at most 4000 characters
    url: str | None
    #: the check's annotations as ``path:line level: message`` lines (absent in observations recorded before them)
    annotations: NotRequired[list[str]]


class _PrChecks(TypedDict):
    pending: list[str]  # names of the checks still queued or running
    failed: list[_PrCheck]
    passed: int


class _PrReview(TypedDict):
    """A reviewer's latest approving or change-requesting review."""

    id: int
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED
    body: str
    commit_id: str | None
    submitted_at: str | None


class _PrComment(TypedDict):
    """A review comment on a line of the pull request."""

    id: int
    path: str
    line: int | None
    body: str
    user: str
    commit_id: str | None
    created_at: str | None


# Why the run went back, for the prompt of the phase it went back to (``from`` is a keyword: functional form).
_ReworkContext = TypedDict(
    "_ReworkContext",
    {"target": str, "from": str, "reason": str, "excerpt": str | None, "failing_tests": list[str], "conflict_files": list[str],
     # a rework the pull request asked for (``from`` is ``pr``): what its checks and reviewers said
     "pr_url": str, "head_sha": str | None, "checks": list[_PrCheck], "reviews": list[_PrReview], "comments": list[_PrComment]},
    total=False,
)


class _PrMemory(TypedDict):
    """What the PR loop remembers of its pull request (``RunState.pr``, changed only by ``animus.tx.pr_*``)."""

    number: int
    url: str
    repo: str | None  # owner/name, when the landing said
    reworks: int  # reworks the PR asked for, against ``pr_loop.max_reworks``
    reworked_shas: list[str]  # head commits whose failed checks a rework answered
    handled_reviews: list[int]  # review ids a rework answered
    handled_comments: list[int]  # review comment ids a rework answered
    since: float | None  # when the last rework was decided (unix s): later comments are new
    escalated: NotRequired[bool]  # the loop escalated (a resume gets a fresh budget)


class RunState(TypedDict, total=False):
    """What the run remembers between phases (the ``state`` column, recorded by transactions)."""

    attempts: dict[str, int]
    rework_counts: dict[str, int]
    rework: _ReworkContext
    outputs: dict[str, str]
    conflict_reworks: int
    landing: str  # the Landing status the run completed with (``nothing_to_land``: it changed nothing; ``pr_merged``: its PR merged)
    pr: _PrMemory


class _LoadedRun(TypedDict):
    """What the loop reads once at its start (step ``animus.load``)."""

    status: str
    plan: Plan
    task: TaskSnapshot
    state: RunState
    phase_index: int


class _Worktree(TypedDict):
    """The task's worktree (step ``animus.worktree``)."""

    path: str
    branch: str
    base_sha: str
    target_branch: str | None  # the branch checked out when the worktree was made (None: detached HEAD)


class _Launched(TypedDict):
    agent_run_id: str
    session_id: str | None
    # the worktree's content before the agent started (``git.worktree_tree``), for phases that check what it changed
    worktree_tree: NotRequired[str | None]
    # set when the agent could not start at all (a secret of its plan has no value now): the phase fails with it
    error: NotRequired[str]
    # set when the agent's provider is paused by a usage limit (``_limits``): nothing was started
    paused_until: NotRequired[float]
    provider: NotRequired[str]


@dataclass(frozen=True)
class _AgentLaunch:
    """What starting one agent run needs (the input of step ``animus.agent.launch``; inputs are not journaled)."""

    plan: Plan
    run_id: str
    phase: PhaseSpec
    task: TaskSnapshot
    state: RunState
    worktree: str
    agent_run_id: str
    session_id: str | None
    resume: bool
    decision_only: bool


class _AgentOutcome(TypedDict):
    """An agent run's judged end (step ``animus.agent.await``): the outcome's fields plus the engine's."""

    status: str  # ok | failed | killed | rate_limited | budget_exceeded | …
    reason: str | None
    session_id: NotRequired[str | None]
    model: NotRequired[str | None]
    final_text: NotRequired[str | None]
    input_tokens: NotRequired[int]
    output_tokens: NotRequired[int]
    cost_usd: NotRequired[float | None]  # None: tokens only, of a model without a price (unknown, never 0)
    cached_input_tokens: NotRequired[int]
    resets_at: NotRequired[float | None]
    decision: dict[str, Any] | None
    exit_code: NotRequired[int | None]
    signal: NotRequired[int | None]
    no_decision_reason: NotRequired[str | None]
    exit_reason: NotRequired[str | None]


class _AgentPhaseResult(_AgentOutcome):
    """The last agent run of a phase attempt, with the attempt's summed usage and its commit."""

    agent_runs: list[str]
    agent_id: NotRequired[str | None]  # the agent that ran it
    fallback: NotRequired[dict[str, str]]  # {from, to, why}: a fallback agent ran it instead of the phase's own
    cost_known: NotRequired[bool]  # False: some of its runs' tokens have no price
    commit_sha: NotRequired[str | None]
    changed_paths: NotRequired[list[str]]  # what the attempt changed, when the phase checks it


class _Committed(TypedDict):
    """The attempt's commit (step ``animus.git.commit``); a read-only phase never commits."""

    sha: str | None
    created: bool
    changed_paths: NotRequired[list[str]]  # since the launch's snapshot, when it took one
    lost: NotRequired[bool]  # taken over: the agent ran on a lost host and its edits never reached a commit


class _CommandResult(TypedDict):
    """A command phase's run (step ``animus.command``)."""

    ok: bool
    argv: list[str]
    exit_code: int | None
    timed_out: bool
    duration_secs: NotRequired[float]
    excerpt: str | None
    failing_tests: list[str]
    decision: dict[str, Any] | None
    log: NotRequired[str]  # the full stdout/stderr (``StateLayout.command_log``)


class _ManualResult(TypedDict):
    """A manual gate's answer (or its timeout)."""

    approved: bool
    timed_out: NotRequired[bool]
    note: NotRequired[str]
    by: NotRequired[str]


_PhaseResult = _AgentPhaseResult | _CommandResult | _ManualResult


class Judgement(TypedDict):
    """A phase's verdict as returned (``verdict``) and as the gate applies it (``effective``)."""

    source: str  # agent | command | manual | skip_if
    verdict: Verdict
    effective: Verdict
    reason: str
    confidence: float | None
    risk: str | None
    evidence: list[dict[str, Any]]


class Route(TypedDict):
    """Where the run goes after a phase: the next index, or a terminal run status (and why)."""

    action: _RouteAction
    next_index: int
    status: str | None  # a terminal RunStatus value when ``action`` is stop
    target_phase: str | None
    why: NotRequired[str]


class _PhaseSummary(TypedDict):
    """What a phase row keeps of a result."""

    input_tokens: int
    output_tokens: int
    cost_usd: float
    commit_sha: str | None
    excerpt: str | None
    failing_tests: list[str]
    agent: NotRequired[str | None]
    model: NotRequired[str | None]
    cost_known: NotRequired[bool]  # False: cost_usd is what was priced; the rest is unknown


class _Landing(TypedDict):
    """How the branch landed (step ``animus.land``)."""

    status: str  # merged | already_merged | nothing_to_land | pr | skipped | conflict | dirty_target
    sha: str | None
    conflict_files: list[str]
    pr_url: str | None
    reason: NotRequired[str]
    # with status ``pr`` (landings recorded before issue 14 name only the URL)
    pr_number: NotRequired[int]
    pr_repo: NotRequired[str]
    pr_created: NotRequired[bool]
    head_sha: NotRequired[str | None]


class _PrError(TypedDict):
    """Why GitHub could not be read or written; ``kind`` says what the loop does about it."""

    kind: Literal["rate_limited", "unavailable", "auth", "not_found", "refused", "config"]
    message: str
    reset_at: float | None  # rate_limited: when GitHub lifts the limit (unix s)


class _PrObservation(TypedDict):
    """One look at the pull request (step ``animus.pr.observe``): plain JSON, decided on by ``_pr_gate``."""

    at: float  # when it was taken (unix s)
    number: int
    error: _PrError | None
    state: str  # open | merged | closed ("" when ``error``)
    head_sha: str | None
    head_ref: str | None
    merge_commit_sha: str | None
    mergeable: bool | None
    url: str | None
    checks: _PrChecks  # the check runs on ``head_sha``
    reviews: list[_PrReview]  # the latest APPROVED / CHANGES_REQUESTED review of each reviewer
    comments: list[_PrComment]  # every review comment (the gate keeps the new ones)


_PrAction = Literal["wait", "rework", "merge", "complete", "cancel", "escalate", "fail"]


class _PrDecision(TypedDict):
    """What the PR loop does after one observation (``_pr_gate.decide_pr``), recorded by ``animus.tx.pr_decision``."""

    action: _PrAction
    seen: str  # what the PR looked like: pending | checks_failed | changes_requested | approved | merged | closed | …
    reason: str
    head_sha: str | None
    wait_secs: float  # wait: how long before looking again (a webhook wakes the run sooner)
    target_phase: str | None  # rework: where the run goes back to
    next_index: int | None
    evidence: list[dict[str, Any]]
    memory: _PrMemory  # the loop's memory after this decision
    rework: NotRequired[_ReworkContext]
    merged_sha: NotRequired[str | None]  # complete: the merge commit


class _PrMerged(TypedDict):
    """The merge through the API (step ``animus.pr.merge``)."""

    status: Literal["merged", "moved", "refused", "closed", "error"]
    sha: str | None  # merged: the merge commit
    reason: str
    error: NotRequired[_PrError]


class _PrCommented(TypedDict):
    """The one escalation comment on the pull request (step ``animus.pr.comment``)."""

    comment_id: int | None
    created: bool
    error: NotRequired[str]  # it could not be posted (the run escalates anyway)


class _Cleaned(TypedDict):
    removed: bool


class _PhaseStarted(TypedDict):
    seq: int


class _Moved(TypedDict):
    """A transaction's answer: the run's status after it, and its state where it changed."""

    status: str
    state: NotRequired[RunState]


class _RunResult(TypedDict):
    """The workflow's return value."""

    run_id: str
    status: str
    landed: NotRequired[_Landing]


def task_snapshot(task: Task) -> TaskSnapshot:
    """The task as a run records it (``Task.to_dict``'s keys, one to one)."""
    return cast(TaskSnapshot, task.to_dict())


def plan_of(run: WorkflowRun) -> Plan:
    """The run's frozen plan (stored by ``prepare_run`` from ``build_plan``)."""
    assert run.plan is not None, f"run {run.id} has no plan"
    return cast(Plan, run.plan)


def state_of(run: WorkflowRun) -> RunState:
    return cast(RunState, run.state)

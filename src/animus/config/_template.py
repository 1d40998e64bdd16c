"""The commented default ``.animus/workflows.yaml`` that ``animus init`` writes."""

from __future__ import annotations

import json
from collections.abc import Sequence

DEFAULT_TEST_COMMAND = ("python", "-m", "pytest", "-q")
# Passes in any repository with no dependencies: git refuses whitespace errors and leftover
# conflict markers in the uncommitted changes, which the scripted demo agent never produces.
_DEMO_TEST_COMMAND = ("git", "diff", "--check", "HEAD")

_TEMPLATE = """\
# animus workflow configuration — reference: docs/configuration.md, concepts: docs/workflows.md
# Check it with `animus config validate`; see the merged result with `animus config show`.
# Unknown keys are errors, and every error names file:line:col.
# More files in .animus/workflows/*.yaml are merged after this one (by id; later files win).

# Which workflow a task runs when it names none.
default_workflow: standard

# Agent profiles: which coding-agent CLI runs, with which model and limits.
agents:
  default:
    tool: claude                 # claude | codex | gemini | opencode | aider | acp | cursor | command | scripted
    # model: claude-sonnet-4-6   # omit to use the CLI's own default
    timeout_secs: 3600           # hard limit per attempt
    idle_timeout_secs: 900       # no output for this long counts as hung
    max_attempts: 3
    permission_mode: acceptEdits # claude only: default | acceptEdits | bypassPermissions | plan
    # api_key_env: ANTHROPIC_API_KEY   # the NAME of the variable holding the key, never the key
    # base_url: http://127.0.0.1:8080  # a gateway, proxy or local endpoint
  scripted:
    tool: scripted               # a built-in fake agent: runs the demo without any agent CLI or key

# Phases: the steps a workflow is made of.
phases:
  implementation:
    mode: agent
    agent: default
    directive: Implement the task with focused, production-quality changes and tests.
    require_changes: true        # an attempt that changes no file goes back for rework
  tests:
    mode: command                # a program (argv list, never a shell); exit code 0 = advance
    command:
      argv: {test_argv}
      cwd: worktree
      timeout_secs: 600
  review:
    mode: agent
    agent: default
    directive: Review the change for defects and missing tests; do not edit code. Ask for rework with an exact fix list.
    read_only: true              # the CLI gets no write tools; a change to the worktree fails the phase
    decision_contract:
      min_confidence: 0.6
      max_risk: medium
  demo-implementation:
    mode: agent
    agent: scripted
    directive: Make the demo change.
    require_changes: true
  demo-tests:
    mode: command
    command:
      argv: {demo_argv}
  demo-review:
    mode: agent
    agent: scripted
    directive: Review the demo change.
    read_only: true

# Workflows: ordered phases; a failed test or a review verdict of `rework` goes back to implementation.
workflows:
  - id: standard
    description: Implement, test, review, then merge into the branch checked out when the run starts.
    phases:
      - implementation
      - tests:
          on_verdict: {{rework: {{target: implementation}}}}
      - review:
          on_verdict: {{rework: {{target: implementation}}}}
          max_rework_attempts: 3
    post_success:
      merge:
        strategy: merge          # merge | squash | rebase
        create_pr: false
        cleanup_worktree: true
  - id: demo
    description: The same shape with the scripted agent; `./run demo` uses it.
    phases:
      - demo-implementation
      - demo-tests:
          on_verdict: {{rework: {{target: demo-implementation}}}}
      - demo-review:
          on_verdict: {{rework: {{target: demo-implementation}}}}
    post_success:
      merge: {{strategy: merge}}

# The daemon: how many tasks run at once and how often it looks for work.
daemon:
  pool_size: 2
  interval_secs: 1.0
  auto_run_ready: false          # true: the daemon starts `ready` tasks by itself
  prune_worktrees: false
  http: {{host: 127.0.0.1, port: 4177}}
"""


def render_default_config(test_command: Sequence[str] | None = None) -> str:
    """The default file; ``test_command`` is the ``tests`` phase argv (default: pytest)."""
    argv = tuple(test_command) if test_command else DEFAULT_TEST_COMMAND
    return _TEMPLATE.format(test_argv=_flow_list(argv), demo_argv=_flow_list(_DEMO_TEST_COMMAND))


def _flow_list(argv: Sequence[str]) -> str:
    # A JSON string is a valid YAML double-quoted scalar, so any argument survives quoting.
    return "[" + ", ".join(json.dumps(a, ensure_ascii=False) for a in argv) + "]"

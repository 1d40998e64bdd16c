"""The loader pipeline in-process: merge by id, positions across files, all errors at once, expansion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from animus.config import WorkflowConfig, load_config, load_config_files, render_default_config
from animus.config.project import Project
from animus.domain.errors import ConfigError, NotFound

BASE = """\
agents:
  default: {tool: claude, model: claude-sonnet-4-6}
phases:
  implementation: {mode: agent, agent: default}
  review: {mode: agent, agent: default}
workflows:
  - id: standard
    phases: [implementation, review]
  - id: quick
    phases: [implementation]
default_workflow: standard
daemon:
  pool_size: 2
  http: {port: 4177}
"""


def load(root: Path) -> WorkflowConfig:
    return load_config(Project(root=root, state_dir=root / "state"))


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(root)
    return info.value.problems


def test_later_files_override_by_id_and_daemon_per_key(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, BASE)
    write_config(
        tmp_path,
        textwrap.dedent("""\
            agents:
              default: {tool: codex}
              extra: {tool: gemini}
            phases:
              tests: {mode: command, command: {argv: [make, test]}}
            workflows:
              - id: quick
                phases: [implementation, tests]
              - id: docs
                phases: [review]
            daemon:
              http: {host: 0.0.0.0}
            """),
        "workflows/10-team.yaml",
    )
    write_config(tmp_path, "default_workflow: quick\n", "workflows/20-local.yaml")
    cfg = load(tmp_path)
    assert cfg.agents["default"].tool == "codex"
    assert cfg.agents["default"].model is None  # an override replaces the whole agent, it does not merge fields
    assert sorted(cfg.agents) == ["default", "extra"]
    assert [w.id for w in cfg.workflows] == ["standard", "quick", "docs"]
    assert [e.phase for e in cfg.expanded_phases("quick")] == ["implementation", "tests"]
    assert cfg.default_workflow == "quick"
    assert cfg.daemon.pool_size == 2
    assert (cfg.daemon.http.host, cfg.daemon.http.port) == ("0.0.0.0", 4177)


def test_error_in_an_overriding_file_points_into_that_file(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, BASE)
    write_config(tmp_path, "workflows:\n  - id: quick\n    phases: [implementation, tset]\n", "workflows/10-team.yaml")
    assert problems_of(tmp_path) == [
        ".animus/workflows/10-team.yaml:3:30: unknown phase 'tset' in workflow 'quick' (defined: implementation, review)"
    ]


def test_errors_from_every_file_are_reported_together_in_file_order(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, BASE.replace("pool_size: 2", "pool_size: two"))
    write_config(tmp_path, "agents:\n  more: {tool: claude, modle: x}\n", "workflows/a.yaml")
    write_config(tmp_path, "phases:\n  p: {mode: agent, agent: nobody}\n", "workflows/b.yaml")
    assert problems_of(tmp_path) == [
        ".animus/workflows.yaml:13:14: pool_size of daemon must be an integer, got a string ('two')",
        ".animus/workflows/a.yaml:2:24: unknown key 'modle' in agent 'more' (did you mean 'model'?)",
        ".animus/workflows/b.yaml:2:27: unknown agent 'nobody' in phase 'p' (defined: default, more)",
    ]


def test_a_syntax_error_in_one_file_still_reports_schema_errors_of_the_others(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, BASE + "bogus: 1\n")
    write_config(tmp_path, "agents: [\n", "workflows/a.yaml")
    found = problems_of(tmp_path)
    assert (
        found[0]
        == ".animus/workflows.yaml:15:1: unknown key 'bogus' at the top level (allowed: agents, budgets, daemon, default_workflow, github, landing, mcp_servers, notifications, phases, pricing, project, schedules, sources, triggers, workflows)"
    )
    assert found[1].startswith(".animus/workflows/a.yaml:2:1: YAML syntax error")
    assert len(found) == 2


def test_multi_error_file_reports_every_error_sorted(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        textwrap.dedent("""\
            agents:
              a: {tool: claud, timeout_secs: 0}
            phases:
              impl: {mode: agent, agent: b}
              tests: {mode: command}
            workflows:
              - id: w
                phases:
                  - impl
                  - tests: {on_verdict: {rework: {target: review}}, skip_if: ["kind == x"]}
                  - workflow_ref: w
            schedules:
              - {id: s, cron: "61 * * * *"}
            """),
    )
    found = problems_of(tmp_path)
    assert found == [
        ".animus/workflows.yaml:2:13: invalid value 'claud' for tool of agent 'a' (allowed: claude, codex, gemini, opencode, aider, acp, cursor, command, scripted, plugin:<name>)",
        ".animus/workflows.yaml:2:34: timeout_secs of agent 'a' must be > 0, got 0",
        ".animus/workflows.yaml:4:30: unknown agent 'b' in phase 'impl' (defined: a)",
        ".animus/workflows.yaml:5:3: phase 'tests' has mode 'command' but no 'command' section (command: {argv: [program, args…]})",
        ".animus/workflows.yaml:10:47: unknown phase 'review' in rework target of workflow 'w' (defined: impl, tests)",
        ".animus/workflows.yaml:10:67: phases[1].tests.skip_if[0] of workflow 'w': unknown skip_if field 'kind' (allowed: labels, priority, type; 'task.' prefix optional)",
        ".animus/workflows.yaml:11:23: workflow_ref cycle: w → w",
        ".animus/workflows.yaml:13:5: schedule 's' needs exactly one of 'workflow_ref' or 'task'",
        ".animus/workflows.yaml:13:19: cron of schedule 's': invalid cron '61 * * * *': a field is out of range or malformed",
    ]


def test_expanded_phases_inlines_workflow_refs_with_their_options(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        textwrap.dedent("""\
            agents: {a: {tool: scripted}}
            phases:
              triage: {mode: agent, agent: a}
              impl: {mode: agent, agent: a}
              review: {mode: agent, agent: a}
              signoff: {mode: manual}
            workflows:
              - id: review-cycle
                phases:
                  - impl
                  - review: {on_verdict: {rework: {target: impl}}, max_rework_attempts: 5}
              - id: full
                phases:
                  - triage
                  - workflow_ref: review-cycle
                  - signoff:
                      skip_if: ["task.type == docs", "labels != 'needs human'"]
            default_workflow: full
            """),
    )
    cfg = load(tmp_path)
    entries = cfg.expanded_phases("full")
    assert [(e.phase, e.workflow) for e in entries] == [
        ("triage", "full"),
        ("impl", "review-cycle"),
        ("review", "review-cycle"),
        ("signoff", "full"),
    ]
    assert entries[2].on_verdict.rework is not None and entries[2].on_verdict.rework.target == "impl"
    assert entries[2].max_rework_attempts == 5
    assert entries[1].max_rework_attempts == 3
    conditions = entries[3].skip_conditions()
    assert [(c.field, c.op, c.value) for c in conditions] == [("type", "==", "docs"), ("labels", "!=", "needs human")]
    assert cfg.phases["signoff"].manual is not None  # a manual phase gets its manual section filled in
    with pytest.raises(NotFound):
        cfg.expanded_phases("nope")


def test_a_single_workflow_is_the_default(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        "agents: {a: {tool: claude}}\nphases: {p: {mode: agent, agent: a}}\nworkflows: [{id: only, phases: [p]}]\n",
    )
    assert load(tmp_path).default_workflow == "only"


def test_no_workflows_is_an_error(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, "agents: {a: {tool: claude}}\n")
    assert problems_of(tmp_path) == [
        ".animus/workflows.yaml:1:1: no workflows defined: add at least one under 'workflows' (`animus init` writes a starting point)"
    ]


def test_missing_configuration_is_not_found_with_an_init_hint(tmp_path: Path, write_config) -> None:
    with pytest.raises(NotFound) as info:
        load(tmp_path)
    assert info.value.hint is not None and "animus init" in info.value.hint


def test_an_empty_extra_file_contributes_nothing(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, BASE)
    write_config(tmp_path, "# nothing yet\n", "workflows/empty.yaml")
    assert len(load(tmp_path).workflows) == 2


def test_top_level_must_be_a_mapping(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, "- agents\n")
    assert problems_of(tmp_path) == [
        ".animus/workflows.yaml:1:1: the file must be a mapping of keys (agents, phases, workflows, …), got a list"
    ]


def test_aliases_are_expanded_and_merge_keys_rejected(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        BASE
        + "schedules:\n  - {id: a, cron: &nightly '0 3 * * *', workflow_ref: quick}\n  - {id: b, cron: *nightly, workflow_ref: quick}\n",
    )
    assert [s.cron for s in load(tmp_path).schedules] == ["0 3 * * *", "0 3 * * *"]
    write_config(tmp_path, "agents:\n  base: &b {tool: claude}\n  other:\n    <<: *b\n")
    assert problems_of(tmp_path)[0].startswith(".animus/workflows.yaml:4:5: YAML merge keys ('<<') are not supported")


def test_prompt_placeholder_must_be_a_whole_argv_element(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        "agents:\n  c: {tool: command, command: [my-agent, '--prompt={prompt}']}\nphases: {p: {mode: agent, agent: c}}\nworkflows: [{id: w, phases: [p]}]\n",
    )
    assert problems_of(tmp_path) == [
        ".animus/workflows.yaml:2:31: command of agent 'c' may use {prompt} only as a whole element, not part of '--prompt={prompt}'"
    ]


def test_models_are_immutable(tmp_path: Path, write_config) -> None:
    write_config(tmp_path, render_default_config())
    cfg = load(tmp_path)
    with pytest.raises(ValidationError):
        cfg.agents["default"].tool = "codex"  # type: ignore[misc]
    assert isinstance(cfg.agents["default"].allowed_tools, tuple)


def test_load_config_files_labels_files_outside_the_root_by_their_path(tmp_path: Path, write_config) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("agents: {a: {tool: nope}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config_files([path], tmp_path / "root")
    assert any(p.startswith(f"{path}:1:20: invalid value 'nope'") for p in info.value.problems)


def test_an_entry_without_options_gets_the_defaults(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        "agents: {a: {tool: claude}}\nphases: {p: {mode: agent, agent: a}}\nworkflows:\n  - id: w\n    phases:\n      - p:\n",
    )
    cfg = load(tmp_path)
    options = cfg.workflows[0].phases[0]["p"]  # type: ignore[index]
    assert options.max_rework_attempts == 3
    (entry,) = cfg.expanded_phases("w")
    assert (entry.phase, entry.max_rework_attempts, entry.skip_if, entry.on_verdict.rework) == ("p", 3, (), None)


def test_fallback_agents_must_name_other_defined_agents_of_an_agent_phase(tmp_path: Path, write_config) -> None:
    write_config(
        tmp_path,
        textwrap.dedent("""\
            default_workflow: w
            agents:
              a: {tool: claude}
              b: {tool: codex, provider: openai}
            phases:
              impl: {mode: agent, agent: a, fallback_agents: [b, nobody, a]}
              check: {mode: command, command: {argv: [ls]}, fallback_agents: [b]}
            workflows:
              - {id: w, phases: [impl, check]}
            """),
    )
    assert problems_of(tmp_path) == [
        ".animus/workflows.yaml:6:54: unknown agent 'nobody' in phase 'impl' (defined: a, b)",
        ".animus/workflows.yaml:6:62: phase 'impl' lists its own agent 'a' as a fallback",
        ".animus/workflows.yaml:7:49: 'fallback_agents' is only for mode 'agent', but phase 'check' has mode 'command'",
    ]

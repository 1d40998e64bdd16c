"""What a user sees of a run: a failing command's output, `animus logs` of a run or task, history on resume."""

from __future__ import annotations

import json
from pathlib import Path

from support.engine import Project, drive, escalated_project, make_project, outcome_of
from support.repo import git

APPROVE_ALL = [{"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "good"}}]
# Fails until b.txt exists (the implementation's second invocation writes it), printing what pytest would.
FLAKY_TESTS = (
    "import pathlib, sys\\n"
    "if pathlib.Path('b.txt').exists(): print('1 passed'); sys.exit(0)\\n"
    "print('collected 2 items')\\n"
    "print('FAILED tests/test_b.py::test_b_exists - AssertionError: no b.txt')\\n"
    "print('1 failed, 1 passed in 0.01s')\\n"
    "print('warning: from stderr', file=sys.stderr)\\n"
    "sys.exit(1)"
)


def _failing_tests_project(tmp_path: Path) -> Project:
    project = make_project(tmp_path, tests_phase=True, review=APPROVE_ALL)
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    old = """command: {argv: ["python3", "-c", "import pathlib, sys; sys.exit(0 if pathlib.Path('a.txt').exists() else 1)"]}"""
    assert old in text
    config.write_text(text.replace(old, f'command: {{argv: ["python3", "-c", "{FLAKY_TESTS}"]}}'))
    assert project.animus("config", "validate").code == 0
    git(project.repo, "commit", "-q", "-am", "tests that fail once")
    return project


def test_a_failing_command_phase_shows_its_last_lines_and_failing_tests_live_in_workflow_get_and_in_logs(tmp_path: Path) -> None:
    project = _failing_tests_project(tmp_path)
    result = drive(project)
    assert result.exits == [0], result.outputs
    assert [p[:3] for p in outcome_of(project)["phases"]][:2] == [("implementation", 1, "advanced"), ("tests", 1, "rework")]
    live = result.outputs[0]
    assert "│ FAILED tests/test_b.py::test_b_exists - AssertionError: no b.txt" in live
    assert "│ 1 failed, 1 passed in 0.01s" in live
    assert "failing tests: tests/test_b.py::test_b_exists" in live
    assert "full output: animus logs TASK-1.main.1 --phase tests" in live
    assert live.count("full output:") == 1  # the passing attempt shows no output

    shown = project.animus("workflow", "get", "TASK-1.main.1")
    assert shown.code == 0, shown.stderr
    assert "failing tests: tests/test_b.py::test_b_exists" in shown.stdout
    assert "│ 1 failed, 1 passed in 0.01s" in shown.stdout
    assert "full output: animus logs TASK-1.main.1 --phase tests" in shown.stdout

    log = project.state_dir / "logs" / "commands" / "TASK-1.main.1-tests-1.log"
    assert log.is_file()
    assert "--- stderr ---\nwarning: from stderr\n" in log.read_text()
    logs = project.animus("logs", "TASK-1.main.1", "--phase", "tests")
    assert logs.code == 0, logs.stderr
    assert "── tests #1 (command, rework)" in logs.stdout and "── tests #2 (command, advanced)" in logs.stdout
    assert "collected 2 items" in logs.stdout and "warning: from stderr" in logs.stdout
    assert "implementation" not in logs.stdout.replace("TASK-1.main.1-tests", "")


def test_logs_takes_a_workflow_run_id_a_task_id_or_an_agent_run_id(tmp_path: Path) -> None:
    project = make_project(tmp_path, tests_phase=True)
    assert drive(project).exits == [0]
    by_run = project.animus("logs", "TASK-1.main.1")
    assert by_run.code == 0, by_run.stderr
    headers = [line for line in by_run.stdout.splitlines() if line.startswith("── ")]
    assert headers == [
        "── implementation #1 (agent, advanced) · agent run TASK-1.main.1-implementation-1",
        "── tests #1 (command, advanced)",
        "── review #1 (agent, rework) · agent run TASK-1.main.1-review-1",
        "── implementation #2 (agent, advanced) · agent run TASK-1.main.1-implementation-2",
        "── tests #2 (command, advanced)",
        "── review #2 (agent, advanced) · agent run TASK-1.main.1-review-2",
    ]
    assert "Implementing." in by_run.stdout and "exit code 0" in by_run.stdout
    assert project.animus("logs", "TASK-1").stdout == by_run.stdout  # a task id: its latest run
    assert project.animus("logs", "task-1", "--phase", "review").stdout.count("── ") == 2

    lines = [json.loads(line) for line in project.animus("logs", "TASK-1.main.1", "--json").stdout.splitlines()]
    phases = [line for line in lines if line["kind"] == "phase"]
    assert [(p["phase"], p["attempt"]) for p in phases][:3] == [("implementation", 1), ("tests", 1), ("review", 1)]
    assert phases[0]["agent_runs"] == ["TASK-1.main.1-implementation-1"] and phases[1]["log"].endswith("TASK-1.main.1-tests-1.log")
    assert any(line["kind"] == "text" and line["run_id"] == "TASK-1.main.1-implementation-1" for line in lines)
    assert any(line["kind"] == "command_output" and line["source"] == "log" for line in lines)

    agent_only = project.animus("logs", "TASK-1.main.1-implementation-1")  # as before: one agent run, no headers
    assert agent_only.code == 0 and "Implementing." in agent_only.stdout and "── " not in agent_only.stdout

    assert project.animus("logs", "TASK-9").code == 3
    unknown = project.animus("logs", "no-such-run")
    assert unknown.code == 3 and "no agent run, workflow run or task 'no-such-run'" in unknown.stderr
    assert project.animus("logs", "TASK-1.main.1", "--phase", "deploy").code == 3
    assert project.animus("logs", "TASK-1.main.1-implementation-1", "--phase", "review").code == 2
    assert project.animus("logs", "TASK-1.main.1", "--follow").code == 2
    assert project.animus("task", "create", "--title", "Another").code == 0
    never_ran = project.animus("logs", "TASK-2")
    assert never_ran.code == 3 and "no workflow run yet" in never_ran.stderr


def test_resume_marks_what_is_history_and_says_where_it_continues(tmp_path: Path) -> None:
    project = escalated_project(tmp_path)
    resumed = drive(project, command=("workflow", "resume"), task="TASK-1.main.1")
    assert resumed.exits == [0], resumed.outputs
    lines = resumed.outputs[0].splitlines()
    header = lines.index("  history (already recorded, not run again):")
    resume_at = next(i for i, line in enumerate(lines) if line.startswith("▶ continuing at "))
    assert header < resume_at
    history = lines[header + 1 : resume_at]
    assert history and all(line.startswith("  ↻ ") for line in history)
    assert any("review #2 → rework" in line for line in history)
    new = lines[resume_at + 1 :]
    assert not any("↻" in line for line in new)
    assert lines[resume_at] == f"▶ continuing at {_first_new_phase(new)}"


def test_run_reattaching_to_a_run_under_way_marks_history_in_json_too(tmp_path: Path) -> None:
    project = make_project(tmp_path, review=APPROVE_ALL)
    result = drive(project, fault="animus.tx.phase_end:after", command=("run", "--json"))
    assert result.exits == [-9, 0], result.outputs
    lines = [json.loads(line) for line in result.outputs[1].splitlines() if line.startswith("{")]
    events = [line for line in lines if "event" in line]  # the last line is the run envelope
    kinds = [(e["event"], e.get("history", False)) for e in events]
    continues = kinds.index(("run.continues", False))
    assert ("decision", True) in kinds[:continues]  # implementation #1's verdict, recorded before the kill
    assert all(history for _kind, history in kinds[1:continues])
    assert not any(history for _kind, history in kinds[continues:])
    assert events[continues] == {"event": "run.continues", "run_id": "TASK-1.main.1", "phase": "review", "attempt": 1, "under_way": False}


def _first_new_phase(lines: list[str]) -> str:
    import re

    for line in lines:
        found = re.match(r"^  (\S+ #\d+) \(", line)
        if found:
            return found.group(1)
    return "landing"

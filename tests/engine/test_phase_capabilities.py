"""What a phase may change (issue 11): a run that changed nothing says so, require_changes, read-only phases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.engine import Project, drive, make_project, outcome_of
from support.repo import git

ADVANCE = {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "done"}}
LOOKED = {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "nothing to change"}}


def _script(*invocations: list[Any]) -> dict[str, Any]:
    return {"invocations": [list(steps) for steps in invocations]}


def _set(project: Project, phase: str, flag: str) -> None:
    """Give a phase of the project's config a flag, committed (a dirty target checkout would block landing)."""
    path = project.repo / ".animus" / "workflows.yaml"
    text = path.read_text()
    line = next(x for x in text.splitlines() if x.startswith(f"  {phase}: {{mode: agent"))
    path.write_text(text.replace(line, line.replace("{mode: agent,", f"{{mode: agent, {flag}: true,")))
    git(project.repo, "commit", "-q", "-am", f"{phase}: {flag}")


def _run(project: Project) -> dict[str, Any]:
    store = project.store()
    try:
        run = store.list_runs(task_id="TASK-1")[0]
        return {**run.to_dict(), "decisions": [d.to_dict() for d in store.decisions(run.id)]}
    finally:
        store.close()


def test_a_run_whose_agent_changed_nothing_completes_saying_nothing_landed(tmp_path: Path) -> None:
    project = make_project(tmp_path, impl=_script([LOOKED]), review=_script([ADVANCE]))
    before = git(project.repo, "rev-parse", "main")
    result = drive(project)
    assert result.exits == [0], result.outputs
    run = _run(project)
    assert (run["status"], run["landed_sha"], run["state"]["landing"]) == ("completed", None, "nothing_to_land")
    assert outcome_of(project)["task_status"] == "done"
    assert git(project.repo, "rev-parse", "main") == before  # nothing merged, not even an empty merge
    assert "✔ completed no changes: nothing landed" in result.outputs[0]
    assert "land #1 → skip: no changes" in result.outputs[0]  # the live progress says it as it happens
    land = [d for d in run["decisions"] if d["phase"] == "land"]
    assert [(d["effective"], d["reason"][:10]) for d in land] == [("skip", "no changes")]
    shown = project.animus("workflow", "get", run["id"])
    assert shown.code == 0 and "no changes: nothing landed" in shown.stdout


def test_a_run_that_changed_files_still_reports_its_landed_sha(tmp_path: Path) -> None:
    project = make_project(tmp_path, impl=_script([{"write": {"path": "a.txt", "content": "a\n"}}, ADVANCE]),
                           review=_script([ADVANCE]))
    assert drive(project).exits == [0]
    run = _run(project)
    assert run["state"]["landing"] == "merged" and run["landed_sha"] == git(project.repo, "rev-parse", "main").strip()
    shown = project.animus("workflow", "get", run["id"])
    assert f"landed {run['landed_sha'][:10]}" in shown.stdout


def test_require_changes_sends_an_attempt_that_changed_no_files_back_for_rework(tmp_path: Path) -> None:
    impl = _script([LOOKED], [{"write": {"path": "a.txt", "content": "a\n"}}, ADVANCE])
    project = make_project(tmp_path, impl=impl, review=_script([ADVANCE]))
    _set(project, "implementation", "require_changes")
    result = drive(project)
    assert result.exits == [0], result.outputs
    out = outcome_of(project)
    assert out["run_status"] == "completed" and "a.txt" in out["files_on_main"]
    first = _run(project)["decisions"][0]
    assert (first["phase"], first["verdict"], first["effective"]) == ("implementation", "advance", "rework")
    assert first["reason"].startswith("the phase changed no files")
    assert out["run_commits"] == ["TASK-1.main.1-implementation-2"]


def test_require_changes_exhausted_escalates_instead_of_landing_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path, impl=_script([LOOKED], [LOOKED], [LOOKED]), review=_script([ADVANCE]), budget=1)
    (project.repo / ".animus" / "workflows.yaml").write_text(
        (project.repo / ".animus" / "workflows.yaml").read_text().replace(
            "      - implementation\n", "      - implementation: {max_rework_attempts: 1}\n"))
    git(project.repo, "commit", "-q", "-am", "budget")
    _set(project, "implementation", "require_changes")
    drive(project)
    run = _run(project)
    assert run["status"] == "escalated" and "rework budget of implementation" in (run["failure_reason"] or "")
    assert [d["effective"] for d in run["decisions"]] == ["rework", "rework"]


def test_a_read_only_phase_that_writes_fails_naming_the_paths_and_commits_none_of_it(tmp_path: Path) -> None:
    review = _script([{"write": {"path": "notes/review.md", "content": "my notes\n"}}, ADVANCE])
    project = make_project(tmp_path, impl=_script([{"write": {"path": "a.txt", "content": "a\n"}}, ADVANCE]),
                           review=review)
    _set(project, "review", "read_only")
    result = drive(project)
    assert result.exits != [0]
    run = _run(project)
    assert run["status"] == "failed"
    assert "read-only phase review changed the worktree: notes/review.md" in run["failure_reason"]
    out = outcome_of(project)
    assert out["run_commits"] == ["TASK-1.main.1-implementation-1"]  # the review's write is not committed
    assert (Path(run["worktree"]) / "notes" / "review.md").read_text() == "my notes\n"  # left for a look
    assert "notes/review.md" in git(Path(run["worktree"]), "status", "--porcelain", "--untracked-files=all")


def test_a_read_only_phase_that_only_reads_advances_and_its_cli_gets_no_write_tools(tmp_path: Path) -> None:
    project = make_project(tmp_path, impl=_script([{"write": {"path": "a.txt", "content": "a\n"}}, ADVANCE]),
                           review=_script([{"tool": {"name": "Read", "input": {"file_path": "a.txt"}}}, ADVANCE]))
    _set(project, "review", "read_only")
    assert drive(project).exits == [0]
    assert outcome_of(project)["run_status"] == "completed"
    impl_argv, review_argv = (s["argv"] for s in project.spawns())
    assert "--disallowedTools" in review_argv and "--disallowedTools" not in impl_argv
    assert review_argv[review_argv.index("--permission-mode") + 1] == "default"

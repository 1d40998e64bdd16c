"""MarkdownAdapter on a real repository: task files become items, problems point at file:line:col, status is committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from animus.config import MarkdownSource
from animus.domain.errors import InvalidInput, Unavailable
from animus.sources import ExternalItem, MarkdownAdapter, SourceContext, StatusUpdate
from support.repo import git, make_repo

LOGIN = """\
---
title: Login page
priority: high
type: feature
labels: [web, auth]
depends_on: [session.md, tasks/db.md]
status: todo   # animus rewrites this line
---
Build the login page.

It needs a form.
"""
SESSION = "\r\n# Keep users logged in\r\nCookies, not tokens.\r\n"
DB = "---\npriority: urgent\nstatus: done\n---\n# Database\n"


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo")
    (root / "tasks" / "notes").mkdir(parents=True)
    (root / "tasks" / "login.md").write_text(LOGIN)
    (root / "tasks" / "session.md").write_bytes(SESSION.encode())
    (root / "tasks" / "db.md").write_text(DB)
    (root / "tasks" / "README.md").write_text("# How we write tasks\n")
    (root / "tasks" / "notes" / "idea.md").write_text("# Not a task: sub-folders are not read\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tasks")
    return root


def _adapter(root: Path, **config: Any) -> MarkdownAdapter:
    fields = {"id": "md", "type": "markdown", "priority_map": {"urgent": "critical"}, **config}
    ctx = SourceContext(project_root=root, state_dir=root.parent / "state", worktrees_dir=root.parent / "wt")
    return MarkdownAdapter(MarkdownSource.model_validate(fields), ctx)


def _update(kind: str = "landed", target_branch: str | None = None, external_id: str = "tasks/login.md") -> StatusUpdate:
    return StatusUpdate(external_id=external_id, task_id="TASK-3", run_id="run-1", kind=kind,  # type: ignore[arg-type]
                        summary="", target_branch=target_branch)


def _commits(root: Path, ref: str = "main") -> int:
    return int(git(root, "rev-list", "--count", ref))


# -- reading ----------------------------------------------------------------------------------------


def test_task_files_become_items_with_every_field(project: Path) -> None:
    result = _adapter(project).fetch(None)
    assert result.complete and result.cursor is None and result.problems == []
    assert [i.external_id for i in result.items] == ["tasks/db.md", "tasks/login.md", "tasks/session.md"]
    db, login, session = result.items
    assert login == ExternalItem(
        external_id="tasks/login.md", key="tasks/login.md", url="tasks/login.md", title="Login page",
        description="Build the login page.\n\nIt needs a form.", labels=("web", "auth"), priority="high",
        type="feature", depends_on=("tasks/session.md", "tasks/db.md"), open=True, data={"status": "todo"},
    )
    assert (session.title, session.description, session.priority, session.open) == (
        "Keep users logged in", "Cookies, not tokens.", None, True)
    assert (db.title, db.priority, db.open) == ("Database", "critical", False)  # urgent via priority_map; done


def test_a_label_in_the_priority_map_sets_the_priority_when_the_file_names_none(project: Path) -> None:
    (project / "tasks" / "x.md").write_text("---\ntitle: X\nlabels: [p0]\n---\n")
    item = _adapter(project, priority_map={"p0": "critical"}).get("tasks/x.md")
    assert item is not None and item.priority == "critical"


def test_a_malformed_file_is_a_positioned_problem_and_the_others_still_come_back(project: Path) -> None:
    (project / "tasks" / "bad.md").write_text("---\ntitle: Bad\nlabels: [a, b\n---\nbody\n")
    result = _adapter(project).fetch(None)
    assert result.problems == [
        "tasks/bad.md:4:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"
    ]
    assert [i.external_id for i in result.items] == ["tasks/db.md", "tasks/login.md", "tasks/session.md"]
    assert not result.complete  # a file with a typo must not look deleted


def test_unknown_keys_and_bad_values_are_reported_where_they_stand(project: Path) -> None:
    (project / "tasks" / "typo.md").write_text(
        "---\ntitel: Typo\npriority: soonish\ntype: feature\nstatus: doing\n---\n# Typo\n")
    problems = _adapter(project).fetch(None).problems
    assert problems[0].startswith("tasks/typo.md:2:1: unknown key 'titel' (did you mean 'title'?)")
    assert problems[1].startswith("tasks/typo.md:3:11: unknown priority 'soonish'")
    assert problems[2].startswith("tasks/typo.md:5:9: unknown status 'doing'")
    assert len(problems) == 3


def test_duplicate_keys_and_a_missing_title_name_whole_file_lines(project: Path) -> None:
    (project / "tasks" / "dup.md").write_text("---\ntitle: A\npriority: high\npriority: low\n---\n")
    (project / "tasks" / "untitled.md").write_text("---\npriority: low\n---\n\nJust text.\n")
    assert _adapter(project).fetch(None).problems == [
        "tasks/dup.md:4:1: duplicate key 'priority' (first defined at line 3, column 1)",
        "tasks/untitled.md:4:1: no title: set title: in the front matter or start the text with '# Title'",
    ]


def test_get_reads_one_file_and_none_when_it_is_gone_or_not_a_task_file(project: Path) -> None:
    adapter = _adapter(project)
    item = adapter.get("tasks/session.md")
    assert item is not None and item.title == "Keep users logged in"
    (project / "tasks" / "session.md").unlink()
    assert adapter.get("tasks/session.md") is None
    assert adapter.get("README.md") is None and adapter.get("tasks/../README.md") is None
    assert adapter.get("tasks/README.md") is None and adapter.get("tasks/notes/idea.md") is None


def test_check_counts_files_and_lists_problems(project: Path) -> None:
    (project / "tasks" / "bad.md").write_text("---\ntitle: [\n---\n")
    report = _adapter(project).check()
    assert report["folder"] == "tasks" and report["files"] == 4 and report["matching"] == 2
    assert [p.split(":")[0] for p in report["problems"]] == ["tasks/bad.md"]


def test_a_missing_folder_is_invalid_input_with_a_hint(project: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist") as caught:
        _adapter(project, path="todo/").check()
    assert caught.value.hint is not None and "mkdir" in caught.value.hint


# -- writing status ---------------------------------------------------------------------------------


def test_report_rewrites_only_the_status_line_in_one_commit_and_a_repeat_is_a_no_op(project: Path) -> None:
    adapter = _adapter(project)
    before = _commits(project)
    result = adapter.report(_update("landed"))
    assert result["status"] == "written" and result["value"] == "done" and result["branch"] == "main"
    assert result["commit"] == git(project, "rev-parse", "main").strip()
    expected = LOGIN.replace("status: todo   # animus rewrites this line\n", "status: done\n")
    assert (project / "tasks" / "login.md").read_text() == expected
    assert git(project, "show", "main:tasks/login.md") == expected
    assert _commits(project) == before + 1
    assert git(project, "log", "-1", "--format=%s").strip() == "animus: tasks/login.md status → done (TASK-3)"
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["tasks/login.md"]
    assert git(project, "status", "--porcelain") == ""

    assert adapter.report(_update("done")) == {"status": "unchanged", "value": "done", "branch": "main"}
    assert _commits(project) == before + 1
    item = adapter.get("tasks/login.md")
    assert item is not None and not item.open


def test_report_adds_a_missing_status_line_keeping_crlf_and_the_body_byte_for_byte(project: Path) -> None:
    adapter = _adapter(project)
    adapter.report(_update("running", external_id="tasks/session.md"))
    text = (project / "tasks" / "session.md").read_bytes()
    assert text == b"---\r\nstatus: in_progress\r\n---\r\n" + SESSION.encode()
    (project / "tasks" / "x.md").write_text("---\ntitle: X\n---\nbody\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "x")
    adapter.report(_update("failed", external_id="tasks/x.md"))
    assert (project / "tasks" / "x.md").read_text() == "---\ntitle: X\nstatus: blocked\n---\nbody\n"


def test_report_never_overwrites_a_users_uncommitted_edit(project: Path) -> None:
    edited = LOGIN + "\nA note the user is still writing.\n"
    (project / "tasks" / "login.md").write_text(edited)
    before = _commits(project)
    with pytest.raises(Unavailable, match="uncommitted changes"):
        _adapter(project).report(_update("landed"))
    assert (project / "tasks" / "login.md").read_text() == edited
    assert _commits(project) == before
    git(project, "commit", "-q", "-am", "the user's note")  # once they commit, the retry goes through
    assert _adapter(project).report(_update("landed"))["status"] == "written"
    assert (project / "tasks" / "login.md").read_text().endswith("A note the user is still writing.\n")


def test_report_on_a_branch_that_is_not_checked_out_leaves_the_checkout_alone(project: Path) -> None:
    git(project, "branch", "release")
    result = _adapter(project).report(_update("landed", target_branch="release"))
    assert result["status"] == "written" and result["branch"] == "release"
    assert "status: done" in git(project, "show", "release:tasks/login.md")
    assert (project / "tasks" / "login.md").read_text() == LOGIN


def test_report_with_write_status_off_or_a_file_not_on_the_branch_writes_nothing(project: Path) -> None:
    before = _commits(project)
    assert _adapter(project, write_status=False).report(_update("landed")) == {"status": "skipped"}
    (project / "tasks" / "new.md").write_text("# New, not committed yet\n")
    assert _adapter(project).report(_update("landed", external_id="tasks/new.md"))["status"] == "missing"
    assert _adapter(project).report(_update("landed", external_id="../etc/passwd"))["status"] == "skipped"
    assert _commits(project) == before


def test_the_status_rewrite_keeps_a_byte_order_mark_and_drops_only_the_old_value() -> None:
    from animus.sources._front_matter import _with_status

    text = "\ufeff---\r\ntitle: T\r\nstatus:\r\n  todo\r\nlabels: [a]\r\n---\r\nbody"
    assert _with_status(text, "done") == "\ufeff---\r\ntitle: T\r\nstatus: done\r\nlabels: [a]\r\n---\r\nbody"
    assert _with_status("# T\n", "done") == "---\nstatus: done\n---\n# T\n"

"""A Markdown source through the sync, on a real repository checkout: a new file is one task, an edit follows
a task that has not started, a file marked done or removed cancels it, and a broken file holds back removals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from animus.config import load_config
from animus.config.project import resolve_project
from animus.domain.tasks import TaskStatus
from animus.sources import SourceContext, adapter_for, sync_source
from support.daemon import source_links
from support.engine import Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    made = make_project(tmp_path, more="sources:\n  - {id: md, type: markdown, path: tasks/}\n")
    (made.repo / "tasks").mkdir()
    return made


def _write(project: Project, name: str, text: str) -> None:
    (project.repo / "tasks" / name).write_text(text)


def _sync(project: Project) -> Any:
    config = load_config(resolve_project(project.repo))
    store = project.store()
    try:
        ctx = SourceContext(project.repo, project.state_dir, project.state_dir / "worktrees")
        return sync_source(store, config, config.source("md"), adapter_for(config.source("md"), config, ctx))
    finally:
        store.close()


def _task(project: Project, task_id: str) -> Any:
    store = project.store()
    try:
        return store.get_task(task_id)
    finally:
        store.close()


def test_markdown_files_follow_their_tasks_until_they_start_and_a_broken_file_holds_back_removals(project: Project) -> None:
    _write(project, "login.md", "---\ntitle: Login page\npriority: high\nlabels: [web]\n---\nA form.\n")
    _write(project, "logout.md", "# Log out\nA button.\n")
    first = _sync(project)
    assert first.ok and len(first.imported) == 2 and first.problems == []
    links = source_links(project, "md")
    login, logout = links["tasks/login.md"], links["tasks/logout.md"]
    task = _task(project, login)
    assert (task.title, task.priority.value, task.labels, task.description) == ("Login page", "high", ("web",), "A form.")
    assert _sync(project).imported == []  # a second sync makes no second task

    _write(project, "login.md", "---\ntitle: Login page with SSO\npriority: low\nlabels: [web, auth]\n---\nA form and SSO.\n")
    assert _sync(project).updated == [login]
    task = _task(project, login)
    assert (task.title, task.priority.value, set(task.labels)) == ("Login page with SSO", "low", {"web", "auth"})

    _write(project, "logout.md", "---\nstatus: wontfix\n---\n# Log out\nA button.\n")
    assert _sync(project).cancelled == [logout]
    assert _task(project, logout).status == TaskStatus.CANCELLED

    (project.repo / "tasks" / "login.md").unlink()
    _write(project, "typo.md", "---\ntitel: Oops\n---\nbody\n")
    held = _sync(project)
    assert held.cancelled == [] and held.problems and held.problems[0].startswith("tasks/typo.md:2:1: unknown key 'titel'")
    assert _task(project, login).status != TaskStatus.CANCELLED  # the listing is not known to be complete

    _write(project, "typo.md", "---\ntitle: Oops\n---\nbody\n")
    fixed = _sync(project)
    assert fixed.problems == [] and fixed.cancelled == [login] and len(fixed.imported) == 1
    assert _task(project, login).status == TaskStatus.CANCELLED

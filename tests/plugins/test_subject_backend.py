"""A subject backend plugin as a task source: the Node.js JSON-file plugin's items become tasks once, and status flows back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import alive, cleanup, daemon_project, source_links, start, wait_for
from support.engine import Project
from support.plugins import JSON_TASKS, PYECHO, install


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., tuple[Project, Path]]]:
    made: list[Project] = []

    def build(*, enqueue: bool = True, plugin: str = "jsontasks") -> tuple[Project, Path]:
        tasks = tmp_path / f"tasks{len(made)}.json"
        extra = ("sources:\n  - {id: js, type: plugin, plugin: " + plugin + ", poll_secs: 1, "
                 f"enqueue: {'true' if enqueue else 'false'}, priority_map: {{urgent: critical}}, "
                 f"settings: {{file: \"{tasks}\"}}}}\n")
        project = daemon_project(tmp_path / f"p{len(made)}", extra=extra)
        made.append(project)
        install(project.repo, JSON_TASKS)
        install(project.repo, PYECHO)
        locked = project.animus("plugin", "lock")
        assert locked.code == 0, locked.stderr
        return project, tasks

    yield build
    for project in made:
        cleanup(project)


def _write(path: Path, items: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"items": items}))


def _items(path: Path) -> dict[str, dict[str, Any]]:
    return {str(item["id"]): item for item in json.loads(path.read_text())["items"]}


def _titles(project: Project) -> list[str]:
    store = project.store()
    try:
        return sorted(t.title for t in store.list_tasks() if t.title != "Do the thing")
    finally:
        store.close()


def test_items_are_imported_once_with_their_fields_and_a_closed_one_is_not(make: Callable[..., tuple[Project, Path]]) -> None:
    project, tasks = make(enqueue=False)
    _write(tasks, [{"id": "1", "title": "Add a changelog", "description": "Keep one.", "labels": ["docs", "urgent"]},
                   {"id": "2", "title": "Old", "state": "closed"},
                   {"id": "3"}])  # no title: a problem, the others still come in
    for _ in range(2):
        synced = project.animus("--json", "source", "sync")
        assert synced.code == 0, synced.stderr
    report = synced.json()[0]
    assert report["ok"] and report["imported"] == [], report
    assert any("task/list item 2: 'title'" in p for p in report["problems"]), report["problems"]
    links = source_links(project, "js")
    assert set(links) == {"1"}
    store = project.store()
    try:
        task = store.get_task(links["1"])
    finally:
        store.close()
    assert (task.title, task.description, task.priority.value, task.status.value) == ("Add a changelog", "Keep one.", "critical", "backlog")
    assert set(task.labels) == {"docs", "urgent"}
    checked = project.animus("--json", "source", "check", "js")
    assert checked.code == 0, checked.stdout
    assert checked.json()[0]["identity"] == "plugin jsontasks 0.1.0" and checked.json()[0]["matching"] == 1


def test_a_plugin_of_another_kind_is_refused_with_the_reason(make: Callable[..., tuple[Project, Path]]) -> None:
    project, _tasks = make(plugin="pyecho")
    synced = project.animus("--json", "source", "sync")
    assert synced.code == 5
    (report,) = json.loads(synced.stderr)["error"]["details"]["results"]
    assert not report["ok"] and "plugin pyecho is a 'custom' plugin, not a subject_backend" in report["error"], report


def test_through_the_daemon_an_item_becomes_a_task_that_lands_and_its_status_comes_back(
        make: Callable[..., tuple[Project, Path]]) -> None:
    project, tasks = make()
    _write(tasks, [{"id": "7", "title": "Write the docs", "priority": "high"}])
    start(project)

    def landed_and_told() -> bool:
        links = source_links(project, "js")
        if "7" not in links:
            return False
        store = project.store()
        try:
            done = store.get_task(links["7"]).status.value == "done"
            pending = store.pending_outbox_by_notifier("source:")
        finally:
            store.close()
        return done and not pending and _items(tasks)["7"].get("animus", {}).get("status") == "landed"

    wait_for(landed_and_told, 90, "the item's task to land and the plugin to be told")
    item = _items(tasks)["7"]
    assert item["state"] == "closed"  # the plugin closes a landed item
    statuses = [h.split(":", 1)[1] for h in item["history"]]
    assert statuses[0] == "running" and statuses[-1] == "landed" and len(statuses) == len(set(statuses)), statuses
    assert _titles(project) == ["Write the docs"]


@pytest.mark.parametrize("fault", ["animus.sources.import:after:2", "animus.sources.report:after"])
def test_a_daemon_killed_mid_sync_or_mid_status_imports_once_and_tells_once(
        make: Callable[..., tuple[Project, Path]], fault: str) -> None:
    project, tasks = make()
    _write(tasks, [{"id": str(n), "title": f"item {n}"} for n in range(4)])
    first = project.animus("daemon", "start", "--json", env={"ANIMUS_FAULT": fault}, timeout=90)
    assert first.code == 0, first.stderr
    pid = first.json()["pid"]
    wait_for(lambda: not alive(pid), 90, f"the daemon to die at {fault}")
    start(project)

    def all_told() -> bool:
        items = _items(tasks)
        return len(source_links(project, "js")) == 4 and all(i.get("animus", {}).get("status") == "landed" for i in items.values())

    wait_for(all_told, 150, "every item to land and be told")
    assert _titles(project) == [f"item {n}" for n in range(4)]  # none imported twice
    for item in _items(tasks).values():
        assert len(item["history"]) == len(set(item["history"])), item["history"]


def test_create_and_update_reach_the_plugin_and_the_next_sync_imports_the_new_item(
        make: Callable[..., tuple[Project, Path]]) -> None:
    from animus.config import load_config
    from animus.config.project import Project as AnimusProject
    from animus.sources import PluginSubjectAdapter, SourceContext, with_plugins

    project, tasks = make(enqueue=False)
    _write(tasks, [])
    config = load_config(AnimusProject(root=project.repo, state_dir=project.state_dir))
    source = config.source("js")
    ctx = SourceContext(project.repo, project.state_dir, project.state_dir / "worktrees")
    with with_plugins(ctx) as ctx:
        assert ctx.plugins is not None
        adapter = PluginSubjectAdapter(source, ctx, ctx.plugins)  # type: ignore[arg-type]
        made = adapter.create(title="Add a CHANGELOG", labels=("docs",), priority="low")
        changed = adapter.update(made.external_id, title="Add a CHANGELOG.md")
        assert (made.title, changed.title, changed.labels, changed.priority) == ("Add a CHANGELOG", "Add a CHANGELOG.md", ("docs",), "low")
        assert adapter.get("no-such-item") is None
    assert _items(tasks)[made.external_id]["title"] == "Add a CHANGELOG.md"
    synced = project.animus("--json", "source", "sync")
    assert synced.code == 0 and synced.json()[0]["imported"], synced.stdout
    assert _titles(project) == ["Add a CHANGELOG.md"]

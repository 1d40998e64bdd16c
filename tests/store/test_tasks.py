from __future__ import annotations

import pytest

from animus.domain.errors import Conflict, InvalidInput, NotFound
from animus.domain.tasks import Priority, TaskStatus, TaskType
from animus.store import NewTask, Store, TaskPatch, TaskQuery

NASTY_TEXTS = [
    'quotes \' " ` and $(rm -rf /) and ${HOME} and ; | & > <',
    "line one\nline two\r\nline three\ttabbed\\backslash",
    "unicode: ünïcödé — 日本語 — emoji 🦀🚀 — combining e\u0301 — rtl \u202eabc",
    "percent % and underscore _ and LIKE wildcards %_%",
    "x" * 100_000,
    "  leading and trailing spaces  ",
]


def test_ids_are_monotonic_and_never_reused_after_delete(store: Store) -> None:
    first = store.create_task(NewTask(title="one"))
    second = store.create_task(NewTask(title="two"))
    assert (first.id, second.id) == ("TASK-1", "TASK-2")
    store.delete_task(second.id)
    third = store.create_task(NewTask(title="three"))
    assert third.id == "TASK-3"


@pytest.mark.parametrize("text", NASTY_TEXTS, ids=range(len(NASTY_TEXTS)))
def test_title_and_description_round_trip_byte_exact(store: Store, text: str) -> None:
    task = store.create_task(NewTask(title=text, description=text + "\n\n" + text))
    fetched = store.get_task(task.id)
    assert fetched.title.encode() == text.encode()
    assert fetched.description.encode() == (text + "\n\n" + text).encode()


def test_empty_title_and_nul_are_invalid_input(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.create_task(NewTask(title="   "))
    with pytest.raises(InvalidInput):
        store.create_task(NewTask(title="a\x00b"))
    assert store.list_tasks() == []


def test_list_filters_by_status_type_priority_label_and_text(store: Store) -> None:
    a = store.create_task(NewTask(title="Fix login", type=TaskType.BUGFIX, priority=Priority.HIGH, labels=("auth", "web")))
    b = store.create_task(NewTask(title="Write docs", description="about LOGIN flow", type=TaskType.DOCS, labels=("web",)))
    c = store.create_task(NewTask(title="100% done_ish", status=TaskStatus.READY, priority=Priority.LOW))

    def ids(**kw: object) -> list[str]:
        return [t.id for t in store.list_tasks(TaskQuery(**kw))]  # type: ignore[arg-type]

    assert ids(statuses=(TaskStatus.READY,)) == [c.id]
    assert ids(types=(TaskType.BUGFIX, TaskType.DOCS)) == [a.id, b.id]
    assert ids(priorities=(Priority.LOW,)) == [c.id]
    assert ids(labels=("web",)) == [a.id, b.id]
    assert ids(labels=("web", "auth")) == [a.id]
    assert ids(text="login") == [a.id, b.id]
    assert ids(text="100%") == [c.id]
    assert ids(text="e_i") == [c.id]  # '_' is literal, not a wildcard
    assert ids(text="0%d") == []


def test_list_sorts_and_pages(store: Store) -> None:
    low = store.create_task(NewTask(title="b-low", priority=Priority.LOW))
    crit = store.create_task(NewTask(title="c-crit", priority=Priority.CRITICAL))
    med1 = store.create_task(NewTask(title="a-med"))
    med2 = store.create_task(NewTask(title="d-med"))
    by = lambda **kw: [t.id for t in store.list_tasks(TaskQuery(**kw))]  # noqa: E731
    assert by() == [crit.id, med1.id, med2.id, low.id]
    assert by(sort="id") == [low.id, crit.id, med1.id, med2.id]
    assert by(sort="id", descending=True) == [med2.id, med1.id, crit.id, low.id]
    assert by(sort="title") == [med1.id, low.id, crit.id, med2.id]
    assert by(limit=2) == [crit.id, med1.id]
    assert by(limit=2, offset=2) == [med2.id, low.id]
    assert by(offset=3) == [low.id]
    with pytest.raises(InvalidInput):
        store.list_tasks(TaskQuery(sort="nope"))


def test_update_changes_fields_and_labels(store: Store) -> None:
    task = store.create_task(NewTask(title="old", labels=("a", "b"), workflow="standard"))
    updated = store.update_task(
        task.id, TaskPatch(title="new", priority=Priority.CRITICAL, add_labels=("c",), remove_labels=("a",), clear_workflow=True)
    )
    assert (updated.title, updated.priority, updated.labels, updated.workflow) == ("new", Priority.CRITICAL, ("b", "c"), None)
    assert updated.updated_at >= task.updated_at
    assert store.list_tasks(TaskQuery(priorities=(Priority.CRITICAL,)))[0].id == task.id


def test_status_transitions_follow_the_table_unless_forced(store: Store) -> None:
    task = store.create_task(NewTask(title="t"))
    with pytest.raises(Conflict):
        store.set_status(task.id, TaskStatus.DONE)
    assert store.get_task(task.id).status == TaskStatus.BACKLOG
    assert store.set_status(task.id, TaskStatus.DONE, force=True).status == TaskStatus.DONE
    blocked = store.set_status(task.id, TaskStatus.BLOCKED, force=True, reason="needs keys")
    assert blocked.blocked_reason == "needs keys"
    assert store.set_status(task.id, TaskStatus.READY).blocked_reason is None


def test_unknown_task_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_task("TASK-42")
    with pytest.raises(NotFound):
        store.set_status("TASK-42", TaskStatus.READY)
    with pytest.raises(NotFound):
        store.create_task(NewTask(title="x", dependencies=("TASK-42",)))
    assert store.list_tasks() == []  # the failed create left nothing behind


def test_dependency_cycles_are_rejected(store: Store) -> None:
    a = store.create_task(NewTask(title="a"))
    b = store.create_task(NewTask(title="b", dependencies=(a.id,)))
    c = store.create_task(NewTask(title="c", dependencies=(b.id,)))
    with pytest.raises(Conflict, match="cycle"):
        store.add_dependency(a.id, c.id)
    with pytest.raises(Conflict, match="cycle"):
        store.add_dependency(a.id, b.id)
    with pytest.raises(Conflict):
        store.add_dependency(a.id, a.id)
    assert store.get_task(a.id).dependencies == ()
    assert store.add_dependency(c.id, a.id).dependencies == (a.id, b.id)
    assert store.add_dependency(c.id, a.id).dependencies == (a.id, b.id)  # idempotent
    assert store.remove_dependency(c.id, a.id).dependencies == (b.id,)
    with pytest.raises(NotFound):
        store.remove_dependency(c.id, a.id)


def test_next_picks_most_urgent_ready_task_with_done_dependencies(store: Store) -> None:
    assert store.next_task() is None
    dep = store.create_task(NewTask(title="dep", status=TaskStatus.READY, priority=Priority.LOW))
    crit = store.create_task(NewTask(title="crit", status=TaskStatus.READY, priority=Priority.CRITICAL, dependencies=(dep.id,)))
    high1 = store.create_task(NewTask(title="high1", status=TaskStatus.READY, priority=Priority.HIGH))
    store.create_task(NewTask(title="high2", status=TaskStatus.READY, priority=Priority.HIGH))
    store.create_task(NewTask(title="backlog-crit", priority=Priority.CRITICAL))
    assert store.next_task().id == high1.id  # type: ignore[union-attr]
    store.set_status(dep.id, TaskStatus.IN_PROGRESS)
    store.set_status(dep.id, TaskStatus.DONE)
    assert store.next_task().id == crit.id  # type: ignore[union-attr]


def test_delete_refuses_while_other_tasks_depend_on_it(store: Store) -> None:
    a = store.create_task(NewTask(title="a"))
    b = store.create_task(NewTask(title="b", dependencies=(a.id,)))
    with pytest.raises(Conflict, match=b.id):
        store.delete_task(a.id)
    store.delete_task(a.id, force=True)
    assert store.get_task(b.id).dependencies == ()
    with pytest.raises(NotFound):
        store.get_task(a.id)


def test_every_change_is_recorded_as_an_event(store: Store) -> None:
    task = store.create_task(NewTask(title="t"))
    store.set_status(task.id, TaskStatus.READY)
    store.update_task(task.id, TaskPatch(title="t2"))
    kinds = [e["kind"] for e in store.events()]
    assert kinds == ["task.created", "task.status", "task.updated"]

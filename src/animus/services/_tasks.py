"""Creating and changing tasks: the one door every front end uses to write a task's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from animus.domain.tasks import Task
    from animus.store import NewTask, Store, TaskPatch


def create_task(store: Store, new: NewTask) -> Task:
    """A new task (its id is the next ``TASK-<n>``); unknown dependencies are refused by the store."""
    return store.create_task(new)


def update_task(store: Store, task_id: str, patch: TaskPatch) -> Task:
    """The task with ``patch`` applied (fields left ``None`` stay as they are; status has its own transition)."""
    return store.update_task(task_id, patch)

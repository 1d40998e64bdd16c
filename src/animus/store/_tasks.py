"""Task rows: create, read, filter, update, status changes, dependencies (with cycle checks)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from animus.domain.errors import Conflict, InvalidInput, NotFound
from animus.domain.tasks import Priority, Task, TaskStatus, TaskType, check_transition
from animus.store._db import Connection, _Row

_MAX_TEXT_BYTES: Final = 1_000_000
# sort key → (column, natural direction); ties always break by task number.
SORT_KEYS: Final[dict[str, tuple[str, str]]] = {
    "priority": ("t.priority_rank", "ASC"),
    "id": ("t.number", "ASC"),
    "created": ("t.created_at", "ASC"),
    "updated": ("t.updated_at", "DESC"),
    "title": ("t.title", "ASC"),
    "status": ("t.status", "ASC"),
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class NewTask:
    """Fields of a task to create; the id is assigned by the store."""

    title: str
    description: str = ""
    type: TaskType = TaskType.FEATURE
    priority: Priority = Priority.MEDIUM
    status: TaskStatus = TaskStatus.BACKLOG
    dependencies: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    workflow: str | None = None


@dataclass(frozen=True)
class TaskPatch:
    """Fields to change; ``None`` means "leave as is" (use ``clear_workflow`` to unset the override)."""

    title: str | None = None
    description: str | None = None
    type: TaskType | None = None
    priority: Priority | None = None
    workflow: str | None = None
    clear_workflow: bool = False
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskQuery:
    """Filters for ``Store.list_tasks``; every given filter must match (labels: all of them)."""

    statuses: tuple[TaskStatus, ...] = ()
    types: tuple[TaskType, ...] = ()
    priorities: tuple[Priority, ...] = ()
    labels: tuple[str, ...] = ()
    text: str | None = None
    sort: str = "priority"
    descending: bool = False
    limit: int | None = None
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _check_text(value: str, what: str) -> str:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid UTF-8 text") from None
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    if size > _MAX_TEXT_BYTES:
        raise InvalidInput(f"{what} is {size} bytes; the limit is {_MAX_TEXT_BYTES}")
    return value


def _check_title(value: str) -> str:
    if not value.strip():
        raise InvalidInput("a task title cannot be empty")
    return _check_text(value, "title")


def _check_label(value: str) -> str:
    label = value.strip()
    if not label or any(c.isspace() for c in label) or "," in label:
        raise InvalidInput(f"invalid label {value!r}: labels are non-empty and have no spaces or commas")
    return _check_text(label, "label")


def _record_event(conn: Connection, kind: str, subject: str, data: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO events (at, kind, subject, data) VALUES (:at, :kind, :subject, :data)",
        {"at": now_iso(), "kind": kind, "subject": subject, "data": json.dumps(data, ensure_ascii=False)},
    )


def _row_to_task(row: _Row, labels: Sequence[str], deps: Sequence[str]) -> Task:
    return Task(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        type=TaskType(row["type"]),
        priority=Priority(row["priority"]),
        status=TaskStatus(row["status"]),
        dependencies=tuple(sorted(deps, key=_id_sort_key)),
        labels=tuple(sorted(labels)),
        workflow=row["workflow"],
        blocked_reason=row["blocked_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _id_sort_key(task_id: str) -> int:
    return int(task_id.split("-", 1)[1]) if "-" in task_id else 0


_SEP = "\x1f"  # unit separator: labels cannot contain it (whitespace) and ids never do


def _select(conn: Connection) -> str:
    """SELECT of task rows with labels and dependencies folded in, so any list is one query."""
    agg = "group_concat({col}, char(31))" if conn.dialect == "sqlite" else "string_agg({col}, chr(31))"
    labels = agg.format(col="l.label")
    deps = agg.format(col="d.depends_on")
    return (
        f"SELECT t.*, (SELECT {labels} FROM task_labels l WHERE l.task_id = t.id) AS labels_agg, "
        f"(SELECT {deps} FROM task_deps d WHERE d.task_id = t.id) AS deps_agg FROM tasks t"
    )


def _hydrate(conn: Connection, rows: list[_Row]) -> list[Task]:
    return [
        _row_to_task(r, (r["labels_agg"] or "").split(_SEP) if r["labels_agg"] else (), r["deps_agg"].split(_SEP) if r["deps_agg"] else ())
        for r in rows
    ]


def _get_task(conn: Connection, task_id: str) -> Task:
    rows = conn.execute(_select(conn) + " WHERE t.id = :id", {"id": task_id})
    if not rows:
        raise NotFound(f"task {task_id} not found", hint="list tasks with `animus task list`")
    return _hydrate(conn, rows)[0]


def _require_ids(conn: Connection, ids: Iterable[str]) -> None:
    for dep in ids:
        if not conn.execute("SELECT 1 AS x FROM tasks WHERE id = :id", {"id": dep}):
            raise NotFound(f"dependency {dep} not found")


def _create_task(conn: Connection, new: NewTask) -> Task:
    title = _check_title(new.title)
    description = _check_text(new.description, "description")
    labels = sorted({_check_label(label) for label in new.labels})
    deps = sorted(set(new.dependencies), key=_id_sort_key)
    with conn.transaction():
        _require_ids(conn, deps)
        number = int(conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'task' RETURNING value")[0]["value"])
        task_id = f"TASK-{number}"
        stamp = now_iso()
        conn.execute(
            """INSERT INTO tasks (id, number, title, description, type, priority, priority_rank, status,
                                  workflow, blocked_reason, created_at, updated_at)
               VALUES (:id, :number, :title, :description, :type, :priority, :rank, :status,
                       :workflow, NULL, :at, :at)""",
            {
                "id": task_id,
                "number": number,
                "title": title,
                "description": description,
                "type": new.type.value,
                "priority": new.priority.value,
                "rank": new.priority.rank,
                "status": new.status.value,
                "workflow": new.workflow,
                "at": stamp,
            },
        )
        conn.execute_many(
            "INSERT INTO task_labels (task_id, label) VALUES (:t, :l)", [{"t": task_id, "l": lb} for lb in labels]
        )
        conn.execute_many(
            "INSERT INTO task_deps (task_id, depends_on) VALUES (:t, :d)", [{"t": task_id, "d": d} for d in deps]
        )
        _record_event(conn, "task.created", task_id, {"status": new.status.value})
        return _get_task(conn, task_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _list_tasks(conn: Connection, query: TaskQuery) -> list[Task]:
    where: list[str] = []
    params: dict[str, Any] = {}
    groups: tuple[tuple[str, tuple[StrEnum, ...]], ...] = (
        ("status", query.statuses),
        ("type", query.types),
        ("priority", query.priorities),
    )
    for name, values in groups:
        if values:
            marks = []
            for n, value in enumerate(values):
                params[f"{name}{n}"] = value.value
                marks.append(f":{name}{n}")
            where.append(f"t.{name} IN ({', '.join(marks)})")
    for n, label in enumerate(query.labels):
        params[f"label{n}"] = label
        where.append(f"EXISTS (SELECT 1 FROM task_labels l WHERE l.task_id = t.id AND l.label = :label{n})")
    if query.text:
        params["text"] = f"%{_escape_like(query.text.lower())}%"
        where.append("(lower(t.title) LIKE :text ESCAPE '\\' OR lower(t.description) LIKE :text ESCAPE '\\')")
    if query.sort not in SORT_KEYS:
        raise InvalidInput(f"invalid sort key {query.sort!r}; allowed: {', '.join(SORT_KEYS)}")
    column, direction = SORT_KEYS[query.sort]
    if query.descending:
        direction = "ASC" if direction == "DESC" else "DESC"
    order = f"{column} {direction}, t.number {direction if column == 't.number' else 'ASC'}"
    sql = _select(conn)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    if query.limit is not None:
        if query.limit < 0:
            raise InvalidInput("--limit must be >= 0")
        sql += " LIMIT :limit OFFSET :offset"
        params["limit"] = query.limit
        params["offset"] = max(query.offset, 0)
    elif query.offset:
        sql += " LIMIT -1 OFFSET :offset" if conn.dialect == "sqlite" else " OFFSET :offset"
        params["offset"] = query.offset
    return _hydrate(conn, conn.execute(sql, params))


def _count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


def _update_task(conn: Connection, task_id: str, patch: TaskPatch) -> Task:
    sets: list[str] = []
    params: dict[str, Any] = {"id": task_id}
    if patch.title is not None:
        sets.append("title = :title")
        params["title"] = _check_title(patch.title)
    if patch.description is not None:
        sets.append("description = :description")
        params["description"] = _check_text(patch.description, "description")
    if patch.type is not None:
        sets.append("type = :type")
        params["type"] = patch.type.value
    if patch.priority is not None:
        sets.extend(["priority = :priority", "priority_rank = :rank"])
        params["priority"] = patch.priority.value
        params["rank"] = patch.priority.rank
    if patch.clear_workflow:
        sets.append("workflow = NULL")
    elif patch.workflow is not None:
        sets.append("workflow = :workflow")
        params["workflow"] = patch.workflow
    add = sorted({_check_label(label) for label in patch.add_labels})
    remove = sorted({_check_label(label) for label in patch.remove_labels})
    with conn.transaction():
        before = _get_task(conn, task_id)
        if sets or add or remove:
            sets.append("updated_at = :at")
            params["at"] = now_iso()
            conn.execute(f"UPDATE tasks SET {', '.join(sets)} WHERE id = :id", params)
        for label in remove:
            conn.execute("DELETE FROM task_labels WHERE task_id = :t AND label = :l", {"t": task_id, "l": label})
        for label in add:
            if label not in before.labels:
                conn.execute("INSERT INTO task_labels (task_id, label) VALUES (:t, :l)", {"t": task_id, "l": label})
        after = _get_task(conn, task_id)
        if after != before:
            _record_event(conn, "task.updated", task_id, {})
        return after


def _set_status(
    conn: Connection, task_id: str, status: TaskStatus, *, force: bool = False, reason: str | None = None
) -> Task:
    with conn.transaction():
        task = _get_task(conn, task_id)
        check_transition(task.status, status, force=force)
        if task.status == status and (reason is None or reason == task.blocked_reason):
            return task
        blocked_reason = (reason or "blocked by hand") if status == TaskStatus.BLOCKED else None
        conn.execute(
            "UPDATE tasks SET status = :s, blocked_reason = :r, updated_at = :at WHERE id = :id",
            {"s": status.value, "r": blocked_reason, "at": now_iso(), "id": task_id},
        )
        _record_event(conn, "task.status", task_id, {"from": task.status.value, "to": status.value, "forced": force})
        return _get_task(conn, task_id)


def _delete_task(conn: Connection, task_id: str, *, force: bool = False) -> Task:
    with conn.transaction():
        task = _get_task(conn, task_id)
        dependents = [r["task_id"] for r in conn.execute("SELECT task_id FROM task_deps WHERE depends_on = :id", {"id": task_id})]
        if dependents and not force:
            names = ", ".join(sorted(dependents, key=_id_sort_key))
            raise Conflict(
                f"{task_id} cannot be deleted: {names} depend(s) on it",
                details={"dependents": dependents},
                hint="remove those dependencies first, or pass --force to drop them too",
            )
        conn.execute("DELETE FROM task_deps WHERE depends_on = :id OR task_id = :id", {"id": task_id})
        conn.execute("DELETE FROM task_labels WHERE task_id = :id", {"id": task_id})
        conn.execute("DELETE FROM tasks WHERE id = :id", {"id": task_id})
        _record_event(conn, "task.deleted", task_id, {"dropped_dependents": dependents})
        return task


def _next_task(conn: Connection) -> Task | None:
    rows = conn.execute(
        _select(conn)
        + """ WHERE t.status = 'ready'
             AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks dt ON dt.id = d.depends_on
                             WHERE d.task_id = t.id AND dt.status <> 'done')
           ORDER BY t.priority_rank ASC, t.number ASC
           LIMIT 1"""
    )
    return _hydrate(conn, rows)[0] if rows else None


def _depends_path(conn: Connection, start: str, goal: str) -> list[str] | None:
    """A dependency path start → … → goal, if one exists (iterative DFS over task_deps)."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        for r in conn.execute("SELECT depends_on FROM task_deps WHERE task_id = :id", {"id": node}):
            stack.append((r["depends_on"], [*path, r["depends_on"]]))
    return None


def _add_dependency(conn: Connection, task_id: str, depends_on: str) -> Task:
    if task_id == depends_on:
        raise Conflict(f"{task_id} cannot depend on itself")
    with conn.transaction():
        # Serialise dependency edits project-wide so two concurrent adds cannot close a cycle.
        conn.execute("UPDATE counters SET value = value WHERE name = 'task'")
        task = _get_task(conn, task_id)
        _get_task(conn, depends_on)
        if depends_on in task.dependencies:
            return task
        cycle = _depends_path(conn, depends_on, task_id)
        if cycle is not None:
            loop = " → ".join([task_id, *cycle])
            raise Conflict(f"adding {task_id} → {depends_on} would create a cycle: {loop}", details={"cycle": [task_id, *cycle]})
        conn.execute("INSERT INTO task_deps (task_id, depends_on) VALUES (:t, :d)", {"t": task_id, "d": depends_on})
        conn.execute("UPDATE tasks SET updated_at = :at WHERE id = :id", {"at": now_iso(), "id": task_id})
        _record_event(conn, "task.dependency_added", task_id, {"depends_on": depends_on})
        return _get_task(conn, task_id)


def _remove_dependency(conn: Connection, task_id: str, depends_on: str) -> Task:
    with conn.transaction():
        task = _get_task(conn, task_id)
        if depends_on not in task.dependencies:
            raise NotFound(f"{task_id} does not depend on {depends_on}")
        conn.execute("DELETE FROM task_deps WHERE task_id = :t AND depends_on = :d", {"t": task_id, "d": depends_on})
        conn.execute("UPDATE tasks SET updated_at = :at WHERE id = :id", {"at": now_iso(), "id": task_id})
        _record_event(conn, "task.dependency_removed", task_id, {"depends_on": depends_on})
        return _get_task(conn, task_id)

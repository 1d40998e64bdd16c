"""The Markdown source: one file per task in a folder of the repository, and ``status:`` written back by commit.

The folder is read in the project's checkout (``ctx.project_root / path``): every ``*.md`` directly
in it, sorted, except ``README.md`` and hidden files (not recursive: a sub-folder is the place for
notes that are not tasks). A file's id, key and url are its path relative to the repository
(``tasks/login.md``). Every listing is the full set of files (``complete``), unless a file could not
be read: then the listing says ``complete=False``, so a file with a typo is never taken for a file
that was deleted.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animus import git
from animus.config._problems import _did_you_mean, _Mark, _Problem, _ProblemList
from animus.domain.errors import Conflict, InvalidInput, Unavailable
from animus.domain.tasks import Priority, TaskType
from animus.sources._front_matter import _parse, _Parsed, _status_of, _with_status
from animus.sources._types import ExternalItem, FetchResult, SourceContext, StatusKind, StatusUpdate

if TYPE_CHECKING:
    from animus.config import MarkdownSource

_KEYS = ("title", "priority", "type", "labels", "depends_on", "status")
#: ``status:`` values of a task still to do (in_progress and blocked are what animus itself writes)
_OPEN_STATUSES = ("todo", "ready", "open", "backlog", "in_progress", "blocked")
_CLOSED_STATUSES = ("done", "cancelled", "canceled", "wontfix")
#: what ``report`` writes into ``status:`` for each run status
_WRITTEN_STATUS: dict[StatusKind, str] = {
    "running": "in_progress",
    "waiting_gate": "in_progress",
    "waiting_pr": "in_progress",
    "landed": "done",
    "done": "done",
    "failed": "blocked",
    "blocked": "blocked",
    "cancelled": "cancelled",
}


class MarkdownAdapter:
    """One ``type: markdown`` source (implements ``SourceAdapter``)."""

    def __init__(self, config: MarkdownSource, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx
        parts = [p for p in config.path.replace("\\", "/").split("/") if p not in ("", ".")]
        #: the folder relative to the repository, posix, "" for the repository root
        self.folder = "/".join(parts)

    # -- the SourceAdapter interface -------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        """Every task file, whatever the cursor (there is none: the folder is read whole each time)."""
        items: list[ExternalItem] = []
        problems: list[str] = []
        for path in self._files():
            try:
                items.append(self._read(path))
            except _ProblemList as exc:
                problems += [p.render() for p in sorted(exc.problems)]
        return FetchResult(items=items, cursor=None, complete=not problems, problems=problems)

    def get(self, external_id: str) -> ExternalItem | None:
        path = self._path_of(external_id)
        if path is None or not path.is_file():
            return None
        try:
            return self._read(path)
        except _ProblemList as exc:
            rendered = [p.render() for p in sorted(exc.problems)]
            raise InvalidInput(f"{external_id} cannot be read: " + "; ".join(rendered),
                               details={"problems": rendered}) from None

    def check(self) -> dict[str, Any]:
        result = self.fetch(None)
        return {
            "folder": self.folder or ".",
            "files": len(self._files()),
            "matching": sum(1 for item in result.items if item.open),
            "problems": result.problems,
        }

    def report(self, update: StatusUpdate) -> dict[str, Any]:
        """Write the run's status into the file's ``status:`` line on the target branch, as one commit."""
        if not self.config.write_status:
            return {"status": "skipped"}
        if self._path_of(update.external_id) is None:
            return {"status": "skipped", "reason": f"{update.external_id} is not a file of {self.folder or '.'}/"}
        value = _WRITTEN_STATUS[update.kind]
        branch = update.target_branch or self._checked_out_branch()
        seen: dict[str, bool] = {}

        def edit(old: str | None) -> str | None:
            seen["exists"] = old is not None
            if old is None or _status_of(old, update.external_id) == value:
                return None
            return _with_status(old, value)

        message = f"animus: {update.external_id} status → {value} ({update.task_id})"
        try:
            sha = git.commit_file_on_branch(self.ctx.project_root, branch, update.external_id, edit, message)
        except Conflict as exc:
            # the user is editing that file (or mid-merge) in their checkout: never write over it, try later
            raise Unavailable(f"source {self.config.id!r}: status {value!r} not written yet: {exc.message}",
                              details=exc.details, hint=exc.hint) from None
        if sha is not None:
            return {"status": "written", "value": value, "branch": branch, "commit": sha}
        if not seen.get("exists"):
            return {"status": "missing", "branch": branch}
        return {"status": "unchanged", "value": value, "branch": branch}

    # -- files ------------------------------------------------------------------------------------

    def _root_folder(self) -> Path:
        return self.ctx.project_root / self.folder if self.folder else self.ctx.project_root

    def _files(self) -> list[Path]:
        folder = self._root_folder()
        if not folder.is_dir():
            raise InvalidInput(
                f"source {self.config.id!r}: the task folder {self.folder or '.'}/ does not exist in"
                f" {self.ctx.project_root}",
                hint=f"create it (mkdir -p {self.folder}) with one .md file per task, or set path: in the source",
            )
        return sorted(p for p in folder.glob("*.md") if p.is_file() and _is_task_file(p.name))

    def _path_of(self, external_id: str) -> Path | None:
        """The file an id names, when it is a task file of this folder (nothing else is ever read)."""
        rel = posixpath.normpath(external_id)
        if posixpath.dirname(rel) != self.folder or not _is_task_file(posixpath.basename(rel)):
            return None
        return self.ctx.project_root / rel

    def _checked_out_branch(self) -> str:
        branch = git.Repo(self.ctx.project_root).current_branch()
        if branch is None:
            raise Unavailable(f"source {self.config.id!r}: {self.ctx.project_root} has no branch checked out"
                              " (detached HEAD) to write task status on",
                              hint="check out a branch there; animus retries later")
        return branch

    # -- one file ---------------------------------------------------------------------------------

    def _read(self, path: Path) -> ExternalItem:
        rel = path.relative_to(self.ctx.project_root).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _ProblemList([_Problem(_Mark(0, rel, 1, 1), f"not UTF-8 text (byte {exc.start})")]) from None
        parsed = _parse(text, rel)
        fields = _Fields(parsed, rel, self.config.priority_map, self.folder)
        item = fields.item()
        if fields.problems:
            raise _ProblemList(fields.problems)
        return item


def _is_task_file(name: str) -> bool:
    return name.endswith(".md") and not name.startswith(".") and name.lower() != "readme.md"


class _Fields:
    """The front matter of one file turned into an ExternalItem, every problem collected with its position."""

    def __init__(self, parsed: _Parsed, rel: str, priority_map: Mapping[str, str], folder: str) -> None:
        self.parsed = parsed
        self.rel = rel
        self.priority_map = priority_map
        self.folder = folder
        self.problems: list[_Problem] = []

    def problem(self, key: str, message: str, *, at_key: bool = False) -> None:
        marks = self.parsed.marks
        mark = marks.key_mark((key,)) if at_key else marks.value_mark((key,))
        if mark.file == "<config>":
            mark = _Mark(0, self.rel, 1, 1)
        self.problems.append(_Problem(mark, message))

    def item(self) -> ExternalItem:
        data = self.parsed.data
        for key in data:
            if key not in _KEYS:
                self.problem(str(key), f"unknown key {key!r}{_did_you_mean(key, _KEYS)}; a task file may set "
                             + ", ".join(_KEYS), at_key=True)
        title, description = self.title_and_description()
        labels = self.strings("labels")
        status = self.status()
        return ExternalItem(
            external_id=self.rel,
            key=self.rel,
            url=self.rel,
            title=title,
            description=description,
            labels=labels,
            priority=self.priority(labels),
            type=self.type(),
            depends_on=tuple(self.dependency(d) for d in self.strings("depends_on")),
            open=status not in _CLOSED_STATUSES,
            data={"status": status} if status else {},
        )

    def title_and_description(self) -> tuple[str, str]:
        body = self.parsed.body
        lines = body.splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        heading = lines[first].strip() if first is not None else ""
        title = self.parsed.data.get("title")
        if "title" in self.parsed.data:
            if not isinstance(title, str) or not title.strip():
                self.problem("title", "title must be a non-empty text")
                return "", body.strip()
            return title.strip(), body.strip()
        if first is not None and heading.startswith("# "):
            return heading[2:].strip(), "\n".join(lines[first + 1:]).strip()
        self.problems.append(_Problem(_Mark(0, self.rel, self.parsed.body_line, 1),
                                      "no title: set title: in the front matter or start the text with '# Title'"))
        return "", body.strip()

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.parsed.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(key, f"{key} must be a list of names, e.g. {key}: [one, two]")
            return ()
        return tuple(v.strip() for v in value)

    def priority(self, labels: tuple[str, ...]) -> str | None:
        value = self.parsed.data.get("priority")
        if value is None:
            # no priority: key: the first label the priority_map knows decides, like a GitHub label would
            return next((self.priority_map[label] for label in labels if label in self.priority_map), None)
        word = str(value).strip()
        if word in {p.value for p in Priority}:
            return word
        if word in self.priority_map:
            return self.priority_map[word]
        allowed = ", ".join(p.value for p in Priority)
        self.problem("priority", f"unknown priority {value!r}{_did_you_mean(word, [p.value for p in Priority])};"
                     f" use {allowed}, or map it in the source's priority_map")
        return None

    def type(self) -> str | None:
        value = self.parsed.data.get("type")
        if value is None:
            return None
        kinds = [t.value for t in TaskType]
        if value not in kinds:
            self.problem("type", f"unknown type {value!r}{_did_you_mean(value, kinds)}; use " + ", ".join(kinds))
            return None
        return str(value)

    def status(self) -> str | None:
        value = self.parsed.data.get("status")
        if value is None:
            return None
        word = str(value).strip().lower()
        if word not in _OPEN_STATUSES + _CLOSED_STATUSES:
            known = [*_OPEN_STATUSES, *_CLOSED_STATUSES]
            self.problem("status", f"unknown status {value!r}{_did_you_mean(word, known)}; use " + ", ".join(known))
            return None
        return word

    def dependency(self, name: str) -> str:
        """``login.md`` (next to this file) or ``tasks/login.md`` (from the repository root) → ``tasks/login.md``."""
        text = name.replace("\\", "/")
        prefix = self.folder + "/" if self.folder else ""
        rel = posixpath.normpath(text if prefix and text.startswith(prefix) else prefix + text)
        if rel.startswith(("/", "../")) or rel in ("..", "."):
            self.problem("depends_on", f"depends_on {name!r} is outside the repository")
        elif rel == self.rel:
            self.problem("depends_on", f"{name!r} is this task itself; a task cannot wait for itself")
        return rel

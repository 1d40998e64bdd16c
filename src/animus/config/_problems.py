"""Positions of YAML keys and values, and the ``file:line:col: message`` problems built from them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

# A path into the document: mapping keys (usually str) and sequence indexes (int).
_Path = tuple[object, ...]


@dataclass(frozen=True, order=True)
class _Mark:
    """A 1-based position in one configuration file; ``order`` is the file's load order."""

    order: int
    file: str
    line: int
    col: int


@dataclass(frozen=True, order=True)
class _Problem:
    """One configuration problem; sorts by file load order, line, column."""

    mark: _Mark
    message: str

    def render(self) -> str:
        return f"{self.mark.file}:{self.mark.line}:{self.mark.col}: {self.message}"


@dataclass
class _Positions:
    """Side table: where each path's key and value start in the source files."""

    keys: dict[_Path, _Mark] = field(default_factory=dict)
    values: dict[_Path, _Mark] = field(default_factory=dict)

    def value_mark(self, path: _Path) -> _Mark:
        """The value at ``path``, else the nearest enclosing value that has a position."""
        for n in range(len(path), -1, -1):
            mark = self.values.get(path[:n])
            if mark is not None:
                return mark
        return _Mark(0, "<config>", 1, 1)

    def key_mark(self, path: _Path) -> _Mark:
        """The key that names ``path`` (the item itself for sequence items), else its nearest parent's."""
        for n in range(len(path), -1, -1):
            sub = path[:n]
            mark = self.keys.get(sub)
            if mark is None and (not sub or isinstance(sub[-1], int)):
                mark = self.values.get(sub)
            if mark is not None:
                return mark
        return _Mark(0, "<config>", 1, 1)

    def replace_prefix(self, prefix: _Path, source: _Positions, source_prefix: _Path | None = None) -> None:
        """Drop every position under ``prefix`` and copy ``source``'s under ``source_prefix`` there."""
        src = prefix if source_prefix is None else source_prefix
        for table in (self.keys, self.values):
            for path in [p for p in table if p[: len(prefix)] == prefix]:
                del table[path]
        for mine, theirs in ((self.keys, source.keys), (self.values, source.values)):
            for path, mark in theirs.items():
                if path[: len(src)] == src:
                    mine[prefix + path[len(src) :]] = mark


class _ProblemList(Exception):
    """Internal carrier of problems between pipeline steps (the public error is ConfigError)."""

    def __init__(self, problems: Iterable[_Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


def _did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match, else ``""``."""
    if not isinstance(word, str):
        return ""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _show_value(value: object, limit: int = 40) -> str:
    """A short, safe rendering of a user value for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


_MAP_LABELS = {"agents": "agent", "phases": "phase", "mcp_servers": "MCP server"}
_LIST_LABELS = {"workflows": "workflow", "schedules": "schedule", "triggers": "trigger"}


def _where(path: _Path, data: object) -> str:
    """A reader's name for ``path``: ``decision_contract.max_risk of phase 'review'``."""
    if not path:
        return "the top level"
    head = path[0]
    if head in _MAP_LABELS and len(path) >= 2:
        base, rest = f"{_MAP_LABELS[str(head)]} {path[1]!r}", path[2:]
    elif head in _LIST_LABELS and len(path) >= 2:
        item = _lookup(data, path[:2])
        ident = item.get("id") if isinstance(item, dict) else None
        base = f"{_LIST_LABELS[str(head)]} {ident!r}" if isinstance(ident, str) else f"{head}[{path[1]}]"
        rest = path[2:]
    else:
        base, rest = ("daemon" if head == "daemon" else f"'{head}'"), path[1:]
    if not rest:
        return base
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return f"{dotted} of {base}"


def _lookup(data: object, path: _Path) -> object:
    """The raw value at ``path``, or None when the path does not exist."""
    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, tuple | list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node

"""A Markdown task file's text: YAML front matter with whole-file positions, the body, and the ``status:`` line.

A file is ``---`` on its first line, YAML, a closing ``---`` line, then the Markdown body. The YAML
is read by the configuration's positioned parser, so a problem points at ``file:line:col`` of the
whole file. The status rewrite edits that one line as text, keeping every other byte (line endings,
comments, a byte-order mark) exactly as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from animus.config._problems import _Mark, _Positions, _Problem, _ProblemList
from animus.config._yaml import _parse_yaml

_BOM = "\ufeff"
_FENCE = "---"
_STATUS_LINE = re.compile(r"status[ \t]*:")


@dataclass(frozen=True)
class _Parsed:
    """The front matter (``data``, ``marks`` in whole-file lines) and the body after it."""

    data: dict[str, Any]
    marks: _Positions
    body: str
    #: the 1-based line the body starts on
    body_line: int


@dataclass(frozen=True)
class _Layout:
    """Where the front matter is: ``open``/``close`` index the fence lines of ``lines`` (None: no front matter)."""

    bom: str
    lines: list[str]
    open: int | None
    close: int | None


def _layout(text: str, file: str) -> _Layout:
    bom = _BOM if text.startswith(_BOM) else ""
    lines = text[len(bom):].splitlines(keepends=True)
    if not lines or not _is_fence(lines[0]):
        return _Layout(bom, lines, None, None)
    close = next((i for i in range(1, len(lines)) if _is_fence(lines[i])), None)
    if close is None:
        raise _ProblemList([_Problem(_Mark(0, file, 1, 1),
                                     "the front matter opened here is never closed: add a line '---' after it")])
    return _Layout(bom, lines, 0, close)


def _is_fence(line: str) -> bool:
    return line.rstrip("\r\n").rstrip(" \t") == _FENCE


def _parse(text: str, file: str) -> _Parsed:
    """The front matter and body of one task file; _ProblemList (whole-file positions) when it is unreadable."""
    layout = _layout(text, file)
    if layout.open is None or layout.close is None:
        return _Parsed({}, _Positions(), "".join(layout.lines), 1)
    # The opening fence becomes an empty line: YAML skips it, and every line number the parser
    # reports (including "first defined at line N" inside its messages) is the whole file's.
    yaml_text = "\n" + "".join(layout.lines[1:layout.close])
    data, marks = _parse_yaml(yaml_text, file)
    if not isinstance(data, dict):
        raise _ProblemList([_Problem(_Mark(0, file, 2, 1),
                                     "the front matter must be a mapping of keys (title: …, priority: …)")])
    return _Parsed(data, marks, "".join(layout.lines[layout.close + 1:]), layout.close + 2)


def _status_of(text: str, file: str) -> object:
    """The ``status:`` value of the front matter, None when absent or unreadable."""
    try:
        return _parse(text, file).data.get("status")
    except _ProblemList:
        return None


def _with_status(text: str, value: str) -> str:
    """``text`` with its top-level ``status:`` line set to ``value`` (added when missing); all else byte-equal."""
    layout = _layout(text, "")
    lines = list(layout.lines)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if layout.open is None or layout.close is None:
        return layout.bom + f"{_FENCE}{newline}status: {value}{newline}{_FENCE}{newline}" + "".join(lines)
    at = next((i for i in range(1, layout.close) if _STATUS_LINE.match(lines[i])), None)
    if at is None:
        return layout.bom + "".join([*lines[:layout.close], f"status: {value}{newline}", *lines[layout.close:]])
    ending = lines[at][len(lines[at].rstrip("\r\n")):] or newline
    end = at + 1
    while end < layout.close and lines[end][:1] in (" ", "\t"):  # the old value's continuation lines
        end += 1
    return layout.bom + "".join([*lines[:at], f"status: {value}{ending}", *lines[end:]])

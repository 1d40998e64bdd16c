"""Parse one YAML file into plain data plus the line:col of every key and value."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from animus.config._problems import _Mark, _Path, _Positions, _Problem, _ProblemList, _show_value

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _parse_yaml(text: str, file: str, order: int = 0) -> tuple[Any, _Positions]:
    """Sequences become tuples, mappings dicts; raises ProblemList with every problem found."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _ProblemList([_syntax_problem(exc, text, file, order)]) from None
    except yaml.YAMLError as exc:
        raise _ProblemList([_Problem(_Mark(order, file, 1, 1), f"YAML error: {exc}")]) from None
    positions = _Positions()
    positions.values[()] = _Mark(order, file, 1, 1)
    if root is None:  # an empty file (or only comments) contributes nothing
        return {}, positions
    builder = _Builder(file, order, positions)
    data = builder.build(root, ())
    if builder.problems:
        raise _ProblemList(builder.problems)
    positions.values[()] = _Mark(order, file, 1, 1)
    return data, positions


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str, order: int) -> _Problem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
        mark = exc.context_mark  # an unterminated quote or bracket: point at where it starts
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    lines = text.splitlines()
    if 0 < line <= len(lines):
        source = lines[line - 1]
        indent = source[: len(source) - len(source.lstrip(" \t"))]
        if "\t" in indent:
            return _Problem(
                _Mark(order, file, line, indent.index("\t") + 1),
                "tab character in indentation (YAML indentation must use spaces)",
            )
    message = f"YAML syntax error: {exc.problem or 'invalid document'}"
    if exc.context:
        message += f" ({exc.context})"
    return _Problem(_Mark(order, file, line, col), message)


class _Builder:
    """Our own constructor: plain data, positions in a side table, duplicate keys rejected."""

    def __init__(self, file: str, order: int, positions: _Positions) -> None:
        self.file = file
        self.order = order
        self.positions = positions
        self.problems: list[_Problem] = []
        self._scalars = SafeConstructor()
        self._stack: set[int] = set()

    def mark(self, node: Node) -> _Mark:
        return _Mark(self.order, self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(_Problem(self.mark(node), message))

    def build(self, node: Node, path: _Path) -> Any:
        self.positions.values[path] = self.mark(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self._stack:
            self.problem(node, "recursive YAML alias is not supported")
            return None
        if node.tag not in _PLAIN_TAGS:
            self.problem(node, f"unsupported YAML tag {node.tag!r}")
            return None
        self._stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return tuple(self.build(item, (*path, i)) for i, item in enumerate(node.value))
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self._stack.discard(id(node))

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == _MERGE_TAG:
            self.problem(node, "YAML merge keys ('<<') are not supported; repeat the keys instead")
            return None
        try:
            return self._scalars.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.problem(node, f"unsupported YAML value: {exc.problem or exc}")
            return None

    def mapping(self, node: MappingNode, path: _Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first: dict[Any, _Mark] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "mapping keys must be plain scalars (a name), not lists or mappings")
                continue
            key = self.scalar(key_node)
            if key_node.tag == _MERGE_TAG:
                continue
            if key in first:
                seen = first[key]
                self.problem(
                    key_node, f"duplicate key {_show_value(key)} (first defined at line {seen.line}, column {seen.col})"
                )
                continue
            first[key] = self.mark(key_node)
            self.positions.keys[(*path, key)] = first[key]
            out[key] = self.build(value_node, (*path, key))
        return out

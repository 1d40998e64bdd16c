"""Map pydantic validation errors back to ``file:line:col`` problems in the user's words."""

from __future__ import annotations

import datetime
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from animus.config._problems import _did_you_mean, _lookup, _Path, _Positions, _Problem, _show_value, _where
from animus.config._schema import _ENTRY_SHAPE, _TRIGGER_TYPES, WorkflowConfig
from animus.config._schema_sources import SOURCE_TYPES

_NOUNS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
# Problems the cross checks report better (with the list of workflows to choose from).
_LEFT_TO_CHECKS = {("missing", ("default_workflow",))}


def _validation_problems(exc: ValidationError, data: Any, positions: _Positions) -> list[_Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        problem = _problem(error, data, positions)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(error: Any, data: Any, positions: _Positions) -> _Problem | None:
    kind: str = error["type"]
    path, parent, is_key = _walk(tuple(error["loc"]))
    if (kind, path) in _LEFT_TO_CHECKS:
        return None
    if kind == "too_short" and _lookup(data, path):
        return None  # pydantic counts only the valid items; the invalid ones have their own errors
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        key = path[-1]
        allowed = sorted(parent.model_fields) if _is_model(parent) else []
        hint = _did_you_mean(key, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
        owner = _where(path[:-1], data)
        place = "at the top level" if owner == "the top level" else f"in {owner}"
        return _Problem(positions.key_mark(path), f"unknown key {_show_value(key)} {place}{hint}")
    if kind == "missing":
        owner = _where(path[:-1], data)
        owner = "the configuration" if owner == "the top level" else owner
        return _Problem(positions.key_mark(path[:-1]), f"{owner} is missing required key {path[-1]!r}")
    if kind == "union_tag_not_found":
        return _Problem(
            positions.key_mark(path),
            f"{_where(path, data)} is missing required key 'type' (one of: {', '.join(_union_tags(path, ctx))})",
        )
    if kind == "union_tag_invalid":
        tpath = (*path, "type")
        return _Problem(
            positions.value_mark(tpath),
            f"invalid value {_show_value(ctx.get('tag'))} for {_where(tpath, data)} (allowed: {', '.join(_union_tags(path, ctx))})",
        )
    mark = positions.key_mark(path) if is_key else positions.value_mark(path)
    subject = f"key {_show_value(path[-1])} of {_where(path[:-1], data)}" if is_key else _where(path, data)
    return _Problem(mark, _message(kind, error["msg"], ctx, value, subject, path, data))


def _union_tags(path: _Path, ctx: dict[str, Any]) -> list[str]:
    """The ``type`` values a tagged list item may take: pydantic names them, else the list's own (triggers or sources)."""
    named = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
    if named:
        return named
    return list(SOURCE_TYPES) if path and path[0] == "sources" else list(_TRIGGER_TYPES)


def _message(kind: str, msg: str, ctx: dict[str, Any], value: Any, subject: str, path: _Path, data: Any) -> str:
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"invalid value {_show_value(value)} for {subject} (allowed: {', '.join(allowed)})"
    if kind in _NOUNS:
        noun = _NOUNS[kind]
        text = f"{subject} must be {noun}, got {_got(value)}"
        if noun == "a string" and isinstance(value, int | float | bool | datetime.date):
            text += " (quote it to make it a string)"
        return text
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        return f"{subject} must be {op} {ctx.get(name)}, got {_show_value(value)}"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        return f"{subject} must not be empty" if need == 1 else f"{subject} must have at least {need} items"
    if kind == "too_long":
        return f"{subject} must have at most {ctx.get('max_length')} items"
    if kind == "phase_entry" and isinstance(value, dict):
        keys = ", ".join(map(str, value)) or "none"
        return (
            f"{subject}: a phase entry map has exactly one key, the phase id (got: {keys}); indent its options under it"
        )
    if kind == "phase_entry":
        return f"{subject}: a phase entry must be {_ENTRY_SHAPE}, got {_got(value)}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return f"{subject} {text}" if text.startswith(("must ", "may ")) else f"{subject}: {text}"
    return f"{subject}: {msg[:1].lower()}{msg[1:]}"


def _got(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({_show_value(value)})"
    if isinstance(value, tuple | list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


# -- walking pydantic's ``loc`` alongside the model types ------------------------------------------
def _walk(loc: tuple[Any, ...]) -> tuple[_Path, Any, bool]:
    """``loc`` without union tags, the type holding the last element, and whether it names a key."""
    tp: Any = WorkflowConfig
    parent: Any = None
    path: list[Any] = []
    is_key = False
    for part in loc:
        tp = _unwrap(tp)
        chosen = _union_member(tp, part)
        if chosen is not None:
            tp = chosen
            continue
        if part == "[key]":
            is_key = True
            continue
        parent = tp
        path.append(part)
        tp = _child(tp, part)
    return tuple(path), _unwrap(parent), is_key


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _union_member(tp: Any, part: Any) -> Any:
    if get_origin(tp) not in (Union, types.UnionType) or not isinstance(part, str):
        return None
    for member in get_args(tp):
        if get_origin(member) is Annotated and any(isinstance(m, Tag) and m.tag == part for m in member.__metadata__):
            return member
        if _is_model(member) and "type" in member.model_fields:
            annotation = member.model_fields["type"].annotation
            if get_origin(annotation) is Literal and part in get_args(annotation):
                return member
    return None


def _child(tp: Any, part: Any) -> Any:
    if _is_model(tp):
        field = tp.model_fields.get(part)
        return field.annotation if field is not None else None
    origin = get_origin(tp)
    if origin in (list, tuple) and get_args(tp):
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[1]
    return None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)

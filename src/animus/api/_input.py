"""Validated reads of query parameters, path ids and JSON body fields; anything malformed is InvalidInput (400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from animus.domain.errors import InvalidInput
from animus.domain.tasks import parse_enum, parse_task_id

_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")


def _task_id(value: str) -> str:
    return parse_task_id(value)


def _safe_id(value: str, what: str) -> str:
    """A run id that is safe as a directory name: no separators, no '..', bounded length."""
    if not value or len(value) > 200 or not set(value) <= _ID_CHARS or ".." in value or not value[0].isalnum():
        raise InvalidInput(f"invalid {what} {value[:80]!r}")
    return value


def _q_int(query: Mapping[str, str], name: str, default: int, *, low: int = 0, high: int = 1_000_000) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"query parameter {name!r} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"query parameter {name!r} must be between {low} and {high}")
    return value


def _q_text(value: str | None, name: str, *, max_chars: int = 1000) -> str | None:
    """A free-text query parameter, bounded before it reaches the database (SQLite refuses long LIKE patterns)."""
    if value is not None and len(value) > max_chars:
        raise InvalidInput(f"query parameter {name!r} is {len(value)} characters; the limit is {max_chars}")
    return value or None


def _q_enums(values: list[str], enum_cls: type[Any], what: str) -> tuple[Any, ...]:
    out = []
    for raw in values:
        for part in raw.split(","):
            if part.strip():
                out.append(parse_enum(enum_cls, part, what))
    return tuple(out)


def _b_str(body: Mapping[str, Any], name: str, *, required: bool = False, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"field {name!r} is required")
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"field {name!r} must be a string")
    return value


def _b_bool(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"field {name!r} must be true or false")
    return value


def _b_str_list(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"field {name!r} must be a list of strings")
    return tuple(value)


def _b_str_map(body: Mapping[str, Any], name: str) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput(f"field {name!r} must be an object of string values")
    for key in value:
        if not key.strip():
            raise InvalidInput(f"field {name!r} has an empty key")
    return dict(value)


def _b_enum(body: Mapping[str, Any], name: str, enum_cls: type[Any]) -> Any:
    value = _b_str(body, name)
    return None if value is None else parse_enum(enum_cls, value, name)


def _no_unknown(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")

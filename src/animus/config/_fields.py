"""Field types and validators every configuration model shares, and the strict base model."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

from animus.config._skip_if import parse_skip_if

_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_DEFAULT_ALLOWED_TOOLS = ("Read", "Edit", "Write", "Bash", "Glob", "Grep")
_PROMPT_PLACEHOLDER = "{prompt}"


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(
            f"invalid id {value!r}: use letters, digits, '-', '_' or '.' (at most 64, starting with a letter or digit)"
        )
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        # never echo the value: people paste the secret itself here
        raise ValueError("must be the NAME of an environment variable (like ANTHROPIC_API_KEY), not a value or key")
    return value


def _env_key(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"invalid environment variable name {value!r}: use letters, digits and '_'")
    return value


def _var_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"invalid variable name {value!r}: use letters, digits and '_', not starting with a digit")
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"invalid URL {value!r}: expected http://host[:port][/path] or https://…")
    return value


def _github_repo(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$", value) or value.endswith((".git", "/")):
        raise ValueError(f"invalid repository {value!r}: expected owner/name, e.g. acme/app")
    return value


def _repo_folder(value: str) -> str:
    parts = value.replace("\\", "/").strip("/").split("/")
    if not value.strip() or value.startswith("/") or any(part in ("", "..") for part in parts if part != "."):
        raise ValueError(f"invalid folder {value!r}: give a folder inside the repository, e.g. tasks/")
    return value


def _program(value: str) -> str:
    if not value.strip() or value != value.strip() or "\0" in value:
        raise ValueError(f"invalid program {value!r}: give a name on PATH or a path, e.g. ~/bin/claude")
    return value


def _argv(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must not be empty: give the program and its arguments as a list")
    if not value[0].strip():
        raise ValueError("must start with a program name, not an empty string")
    for item in value:
        if _PROMPT_PLACEHOLDER in item and item != _PROMPT_PLACEHOLDER:
            raise ValueError(f"may use {_PROMPT_PLACEHOLDER} only as a whole element, not part of {item!r}")
    return value


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron {value!r}: expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    from croniter import croniter  # type: ignore[import-untyped]  # imported here: only schedules pay for it

    if not croniter.is_valid(value):
        raise ValueError(f"invalid cron {value!r}: a field is out of range or malformed")
    return value


def _skip_expr(value: str) -> str:
    parse_skip_if(value)
    return value


def _env_glob(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9_*?\[\]!]+$", value):
        raise ValueError(f"invalid environment variable name or glob {value!r}: use letters, digits, '_' and '*', '?', '[…]'")
    return value


_Ident = Annotated[str, AfterValidator(_ident)]
_EnvGlob = Annotated[str, AfterValidator(_env_glob)]
# a tagged union, so a bad value gets one error (the word's or the list item's), not one per member
_EnvInherit = Annotated[
    Annotated[Literal["all", "none"], Tag("word")] | Annotated[tuple[_EnvGlob, ...], Tag("list")],
    Discriminator(lambda value: "list" if isinstance(value, list | tuple) else "word"),
]
_EnvName = Annotated[str, AfterValidator(_env_name)]
_EnvKey = Annotated[str, AfterValidator(_env_key)]
_Argv = Annotated[tuple[str, ...], AfterValidator(_argv)]
_PositiveInt = Annotated[int, Field(gt=0)]
_GitHubRepo = Annotated[str, AfterValidator(_github_repo)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)



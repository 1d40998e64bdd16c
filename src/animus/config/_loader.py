"""Load the workflow configuration: 1 discover → 2 parse with positions → 3 merge → 4 defaults → 5 validate."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animus.config._problems import _Mark, _Positions, _Problem, _ProblemList
from animus.config._yaml import _parse_yaml
from animus.domain.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from animus.config._schema import WorkflowConfig
    from animus.config.project import Project

CONFIG_RELPATH = ".animus/workflows.yaml"
_EXTRA_CONFIG_GLOB = ".animus/workflows/*.yaml"

_BY_ID_MAPS = ("agents", "phases", "mcp_servers")
_BY_ID_LISTS = {"workflows": "workflow", "schedules": "schedule", "triggers": "trigger", "sources": "source"}
_PER_KEY_MAPS = ("daemon", "github")


def load_config(project: Project) -> WorkflowConfig:
    """The project's merged, validated configuration; ConfigError lists every problem at once."""
    paths = discover_config_files(project.root)
    if not paths:
        raise NotFound(
            f"no workflow configuration in {project.root}: neither {CONFIG_RELPATH} nor {_EXTRA_CONFIG_GLOB} exists",
            hint="run `animus init` to write a commented default, then `animus config validate`",
        )
    return load_config_files(paths, project.root)


# -- 1. discover -----------------------------------------------------------------------------------
def load_config_if_present(project: Project) -> WorkflowConfig | None:
    """``load_config``, or ``None`` for a project without configuration files (nothing can run there yet)."""
    return load_config(project) if discover_config_files(project.root) else None


def discover_config_files(root: Path) -> list[Path]:
    """``.animus/workflows.yaml`` first, then ``.animus/workflows/*.yaml`` sorted by name."""
    main = root / CONFIG_RELPATH
    extra_dir = main.parent / "workflows"
    extras = sorted(p for p in extra_dir.glob("*.yaml") if p.is_file()) if extra_dir.is_dir() else []
    return ([main] if main.is_file() else []) + extras


def load_config_files(paths: Iterable[str | os.PathLike[str]], root: str | os.PathLike[str]) -> WorkflowConfig:
    """Run steps 2–5 over ``paths`` in order (later files override earlier ones by id)."""
    root_path = Path(root)
    problems: list[_Problem] = []
    parsed: list[tuple[dict[Any, Any], _Positions]] = []
    for order, raw_path in enumerate(paths):
        path = Path(raw_path)
        label = _label(path, root_path)
        try:
            parsed.append(_parse_file(path, label, order))
        except _ProblemList as exc:
            problems.extend(exc.problems)
    # Cross-file checks would only echo a broken file's absence, so they wait for every file to parse.
    parsed_all = not problems
    data, positions = _merge(parsed, problems)
    _fill_defaults(data)
    model = _validate(data, positions, problems, cross_checks=parsed_all)
    if problems or model is None:
        ordered = sorted(set(problems))
        raise ConfigError(
            [p.render() for p in ordered],
            details={
                "errors": [
                    {"file": p.mark.file, "line": p.mark.line, "col": p.mark.col, "message": p.message} for p in ordered
                ]
            },
        )
    return model


def _label(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# -- 2. parse with positions -----------------------------------------------------------------------
def _parse_file(path: Path, label: str, order: int) -> tuple[dict[Any, Any], _Positions]:
    top = _Mark(order, label, 1, 1)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise _ProblemList([_Problem(top, f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise _ProblemList([_Problem(top, f"not UTF-8 text (byte {exc.start})")]) from None
    data, positions = _parse_yaml(text, label, order)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, tuple) else f"a single value ({type(data).__name__})"
        raise _ProblemList(
            [_Problem(top, f"the file must be a mapping of keys (agents, phases, workflows, …), got {kind}")]
        )
    return data, positions


# -- 3. merge --------------------------------------------------------------------------------------
def _merge(files: list[tuple[dict[Any, Any], _Positions]], problems: list[_Problem]) -> tuple[dict[Any, Any], _Positions]:
    merged: dict[Any, Any] = {}
    positions = _Positions()
    for data, pos in files:
        positions.values.setdefault((), pos.values[()])
        for key, value in data.items():
            if key in _BY_ID_MAPS and isinstance(value, dict) and isinstance(merged.get(key, {}), dict):
                section = merged.setdefault(key, {})
                _copy_own(positions, pos, (key,))
                for ident, item in value.items():
                    section[ident] = item
                    positions.replace_prefix((key, ident), pos)
            elif key in _BY_ID_LISTS and isinstance(value, tuple) and isinstance(merged.get(key, ()), tuple):
                _copy_own(positions, pos, (key,))
                merged[key] = _merge_list(key, merged.get(key, ()), value, pos, positions, problems)
            elif key in _PER_KEY_MAPS and isinstance(value, dict) and isinstance(merged.get(key, {}), dict):
                _copy_own(positions, pos, (key,))
                _merge_per_key(merged.setdefault(key, {}), value, (key,), pos, positions)
            else:
                merged[key] = value
                positions.replace_prefix((key,), pos)
    if not files:
        positions.values[()] = _Mark(0, CONFIG_RELPATH, 1, 1)
    return merged, positions


def _copy_own(positions: _Positions, pos: _Positions, path: tuple[Any, ...]) -> None:
    for mine, theirs in ((positions.keys, pos.keys), (positions.values, pos.values)):
        if path in theirs:
            mine[path] = theirs[path]


def _merge_list(
    key: str,
    current: tuple[Any, ...],
    incoming: tuple[Any, ...],
    pos: _Positions,
    positions: _Positions,
    problems: list[_Problem],
) -> tuple[Any, ...]:
    items = list(current)
    index = {
        item["id"]: i for i, item in enumerate(items) if isinstance(item, dict) and isinstance(item.get("id"), str)
    }
    first_here: dict[str, _Mark] = {}
    for j, item in enumerate(incoming):
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str):
            if ident in first_here:
                seen = first_here[ident]
                problems.append(
                    _Problem(
                        pos.value_mark((key, j, "id")),
                        f"duplicate {_BY_ID_LISTS[key]} id {ident!r} (first defined at line {seen.line}, column {seen.col})",
                    )
                )
                continue
            first_here[ident] = pos.value_mark((key, j, "id"))
        if isinstance(ident, str) and ident in index:
            slot = index[ident]
            items[slot] = item
        else:
            slot = len(items)
            items.append(item)
            if isinstance(ident, str):
                index[ident] = slot
        positions.replace_prefix((key, slot), pos, (key, j))
    return tuple(items)


def _merge_per_key(
    target: dict[Any, Any], incoming: dict[Any, Any], path: tuple[Any, ...], pos: _Positions, positions: _Positions
) -> None:
    for key, value in incoming.items():
        sub = (*path, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _copy_own(positions, pos, sub)
            _merge_per_key(target[key], value, sub, pos, positions)
        else:
            target[key] = value
            positions.replace_prefix(sub, pos)


# -- 4. defaults -----------------------------------------------------------------------------------
def _fill_defaults(data: dict[Any, Any]) -> None:
    """Defaults that depend on other values; plain field defaults live in the schema."""
    workflows = data.get("workflows")
    if isinstance(workflows, tuple):
        ids = [w.get("id") for w in workflows if isinstance(w, dict)]
        if "default_workflow" not in data and len(workflows) == 1 and isinstance(ids[0] if ids else None, str):
            data["default_workflow"] = ids[0]
        for wf in workflows:
            if isinstance(wf, dict) and isinstance(wf.get("phases"), tuple):
                # `- review:` (no options) means `- review: {}`
                wf["phases"] = tuple(
                    {k: {} for k in e}
                    if isinstance(e, dict) and len(e) == 1 and None in e.values() and "workflow_ref" not in e
                    else e
                    for e in wf["phases"]
                )
    phases = data.get("phases")
    if isinstance(phases, dict):
        for phase in phases.values():
            if isinstance(phase, dict) and phase.get("mode") == "manual" and "manual" not in phase:
                phase["manual"] = {}


# -- 5. validate -----------------------------------------------------------------------------------
def _validate(
    data: dict[Any, Any], positions: _Positions, problems: list[_Problem], *, cross_checks: bool
) -> WorkflowConfig | None:
    from pydantic import ValidationError

    from animus.config._checks import _cross_check
    from animus.config._schema import WorkflowConfig
    from animus.config._validation import _validation_problems

    model = None
    try:
        model = WorkflowConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, data, positions))
    if cross_checks:
        problems.extend(_cross_check(data, positions))
    return model

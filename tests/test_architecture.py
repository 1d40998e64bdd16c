"""Guards for the layout rules of STYLE.md: layers, curated exports, module size."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "animus"
# Lower rank may not import higher rank; same rank may not import each other (except itself).
RANK = {
    "domain": 0,
    "config": 1,
    "store": 1,
    "procs": 1,
    "git": 2,
    "agents": 2,
    "engine": 3,
    "services": 3.5,  # between the engine and the fronts: the fronts call it, it calls the engine
    "api": 4,
    "mcp": 4,
    "notify": 4,
    "web": 5,
    "daemon": 6,
    "cli": 7,
}
SUBPROCESS_ALLOWED = {"procs"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _package_files() -> list[tuple[str, Path]]:
    return [(p.relative_to(SRC).parts[0], p) for p in SRC.rglob("*.py") if len(p.relative_to(SRC).parts) > 1]


def test_layers_only_import_downwards() -> None:
    problems = []
    for layer, path in _package_files():
        if layer not in RANK:
            problems.append(f"{path}: package {layer!r} has no rank in the layer table")
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "animus" or len(parts) < 2 or parts[1] not in RANK:
                continue
            target = parts[1]
            if target == layer:
                continue
            if RANK[target] >= RANK[layer]:
                problems.append(f"{path.relative_to(SRC)} ({layer}) imports {name} ({target})")
    assert problems == []


def test_only_procs_spawns_processes() -> None:
    offenders = []
    for layer, path in _package_files():
        if layer in SUBPROCESS_ALLOWED or "fake" in path.parts:
            continue
        if any(n in ("subprocess", "pty") or n.startswith("subprocess.") for n in _imports(path)):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_domain_imports_only_the_standard_library() -> None:
    import sys

    for path in (SRC / "domain").glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top == "animus" or top in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_no_module_exceeds_the_hard_cap_of_600_lines() -> None:
    too_big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert too_big == {}


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("package", sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()))
def test_package_exports_are_sorted_and_real(package: str) -> None:
    module = importlib.import_module(f"animus.{package}")
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert package in ("cli",), f"animus.{package} has no __all__"
        return
    assert list(exported) == sorted(exported, key=_isort_key), f"animus.{package}.__all__ is not sorted"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []

"""Guards for the layout rules of DESIGN.md and STYLE.md: layers, who may do what, curated exports, size."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "animus"
ARCHITECTURE_DOC = SRC.parents[1] / "docs" / "architecture.md"

# The layer table, top to bottom (docs/architecture.md says the same in one line, pinned below).
# A package imports only packages on lower rows; packages on one row do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("daemon",),
    ("web",),
    ("api", "mcp", "notify", "sources", "stepstore"),
    ("services",),
    ("engine",),
    ("agents", "git", "plugins"),
    ("procs", "store", "config"),
    ("domain",),
)
RANK = {package: len(LAYERS) - row for row, packages in enumerate(LAYERS) for package in packages}

# Not process supervision, so not procs' business: a test double that plays a misbehaving agent.
SPAWNERS_ALLOWED = {
    "agents/fake/_steps.py": "the fake agent CLI forks a grandchild that ignores SIGTERM, to prove procs kills the tree",
}
# Not process supervision either: these processes SIGKILL themselves on purpose.
SIGNAL_SENDERS_ALLOWED = {
    "agents/fake/_steps.py": "the fake agent CLI kills itself to play an agent that dies between tool use and result",
}


# ---- reading the source ------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str, path_name: str) -> str:
    return module if path_name == "__init__.py" else module.rpartition(".")[0]


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of ``from <module> import …``; relative levels count up from ``package``."""
    if node.level == 0:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(source: str, module: str, package: str) -> list[str]:
    """Every module ``source`` imports, absolute, in any form and at any depth (functions, TYPE_CHECKING).

    ``from a import b`` counts as ``a.b``: ``b`` may be a submodule (``from animus import procs``).
    """
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(node, package)
            names += [origin if alias.name == "*" else f"{origin}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and _dotted(node.func) in ("importlib.import_module", "import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.append(node.args[0].value)
    return names


def _imports(path: Path) -> list[str]:
    module = _module_name(path)
    return imports_in(path.read_text(), module, _package_of(module, path.name))


def _package_files() -> list[tuple[str, Path]]:
    return [(p.relative_to(SRC).parts[0], p) for p in sorted(SRC.rglob("*.py")) if len(p.relative_to(SRC).parts) > 1]


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _new_offenders(check: Callable[[str, str], list[str]], outside: str, listed: Iterable[str]) -> dict[str, list[str]]:
    """{file: findings} of ``check(source, module)`` over the files outside package ``outside`` and not ``listed``."""
    found = {}
    for layer, path in _package_files():
        if layer != outside and _rel(path) not in listed and (hits := check(path.read_text(), _module_name(path))):
            found[_rel(path)] = hits
    return found


# ---- layers -------------------------------------------------------------------------------------


def layer_violations(layer: str, imported: list[str]) -> list[str]:
    bad = []
    for name in imported:
        parts = name.split(".")
        if parts[0] == "animus" and len(parts) > 1 and parts[1] in RANK and parts[1] != layer:
            if RANK[parts[1]] >= RANK[layer]:
                bad.append(name)
    return bad


def test_layers_only_import_downwards() -> None:
    # DESIGN.md: arrows point only downwards, so each layer can be read and tested without those above.
    problems = []
    for layer, path in _package_files():
        if layer not in RANK:
            problems.append(f"{_rel(path)}: package {layer!r} has no rank in the layer table")
            continue
        problems += [f"{_rel(path)} ({layer}) imports {name}" for name in layer_violations(layer, _imports(path))]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import animus.cli.app", "animus.engine._x", ["animus.cli.app"]),
        ("from animus import procs, daemon", "animus.git._x", ["animus.procs", "animus.daemon"]),
        ("from animus.web._dashboard import create_app", "animus.api._x", ["animus.web._dashboard.create_app"]),
        ("from . import _steps", "animus.engine._workflow", ["animus.engine._steps"]),
        ("from .._y import z", "animus.agents.fake._cli", ["animus.agents._y.z"]),
        ("from ... import cli", "animus.agents.fake._cli", ["animus.cli"]),
        ("def f():\n    from animus import engine\n", "animus.store._x", ["animus.engine"]),
        ("if TYPE_CHECKING:\n    from animus.api import X\n", "animus.notify._x", ["animus.api.X"]),
        ("import importlib\nimportlib.import_module('animus.cli')", "animus.domain._x", ["importlib", "animus.cli"]),
    ],
)
def test_every_import_form_is_read(source: str, module: str, expected: list[str]) -> None:
    assert imports_in(source, module, module.rpartition(".")[0]) == expected


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("git", "from animus import procs, agents"),  # same row
        ("engine", "from .. import daemon"),  # upwards, relative
        ("store", "def f():\n    import animus.services\n"),  # a future layer, inside a function
    ],
)
def test_an_upward_or_sideways_import_is_caught(layer: str, source: str) -> None:
    module = f"animus.{layer}._x"
    assert layer_violations(layer, imports_in(source, module, f"animus.{layer}")) != []


def _order_line(text: str) -> tuple[tuple[str, ...], ...]:
    layers = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in layers.splitlines() if ln.startswith("Order:"))
    return tuple(tuple(re.findall(r"`(\w+)`", row)) for row in line.removeprefix("Order:").split(">"))


def test_the_layer_table_here_and_in_docs_architecture_agree() -> None:
    text = ARCHITECTURE_DOC.read_text()
    assert _order_line(text) == LAYERS
    table = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    in_table = {name for row in re.findall(r"^\| ([^|]+)\|", table, re.M) for name in re.findall(r"`(\w+)`", row)}
    assert in_table == set(RANK)


def test_every_package_has_a_layer() -> None:
    # An unranked package would pass the layer rule unchecked.
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages - set(RANK) == set()


def test_domain_imports_only_the_standard_library() -> None:
    # The domain is plain types and state machines that docs and every layer share: no dependencies.
    for path in (SRC / "domain").glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top == "animus" or top in sys.stdlib_module_names, f"{path.name} imports {name}"


# ---- who may do what ----------------------------------------------------------------------------


_SPAWNING_MODULES = {"subprocess", "pty", "multiprocessing"}
_SPAWN_CALLS = re.compile(r"os\.(fork|forkpty|posix_spawnp?|exec\w*|spawn\w*|system|popen)|asyncio\.create_subprocess_\w+")


def process_spawns(source: str, module: str) -> list[str]:
    """Imports of a spawning module and calls that start a process (fork, posix_spawn, exec*, system)."""
    found = [name for name in imports_in(source, module, module.rpartition(".")[0]) if name.split(".")[0] in _SPAWNING_MODULES]
    return found + [call for call in _calls(source) if _SPAWN_CALLS.fullmatch(call.partition(":")[0])]


def test_only_procs_spawns_processes() -> None:
    # DESIGN.md: agents run detached under procs' supervisor; a process started elsewhere is not re-attached.
    assert _new_offenders(process_spawns, "procs", SPAWNERS_ALLOWED) == {}


def dbos_imports(source: str, module: str) -> list[str]:
    return [name for name in imports_in(source, module, module.rpartition(".")[0]) if name.split(".")[0] == "dbos"]


def test_only_the_engine_imports_dbos() -> None:
    # DESIGN.md: the daemon asks the engine and never drives DBOS itself; DBOS is the engine's detail.
    assert _new_offenders(dbos_imports, "engine", set()) == {}


_SIGNAL_SENDS = {"os.kill", "os.killpg", "signal.pthread_kill", "signal.raise_signal", "signal.pidfd_send_signal"}


# the C modules under the names code imports them by (procs uses _signal: it starts faster)
_SAME_MODULE = {"_signal": "signal", "posix": "os"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """{local name: qualified name} for ``import os as o`` and ``from os import kill``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update({a.asname or a.name: a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return {local: _qualify(name) for local, name in names.items()}


def _qualify(name: str) -> str:
    head, dot, rest = name.partition(".")
    return f"{_SAME_MODULE.get(head, head)}{dot}{rest}"


def _calls(source: str) -> list[str]:
    """``qualified.name:line`` of every call, with import aliases resolved (``kp(…)`` is ``os.killpg``)."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := _dotted(node.func)):
            head, dot, rest = name.partition(".")
            calls.append(f"{aliases.get(head, head)}{dot}{rest}:{node.lineno}")
    return calls


def signal_sends(source: str, module: str) -> list[str]:
    """Calls that send a signal to a process. Installing a handler (signal.signal) sends nothing."""
    return [c for c in _calls(source) if (n := c.partition(":")[0]) in _SIGNAL_SENDS or n.endswith(".send_signal")]


def test_only_procs_sends_process_signals() -> None:
    # procs owns kill-tree, PID-reuse guards and escalation; a signal sent elsewhere skips all three.
    # The daemon's and `animus web`'s own handlers (signal.signal) only set a flag, uvicorn-style.
    assert _new_offenders(signal_sends, "procs", SIGNAL_SENDERS_ALLOWED) == {}


_SQL = re.compile(
    r"^\s*(SELECT\b[\s\S]*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+[\s\S]*\bSET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX)\b|PRAGMA\s+\w+|WITH\s+\w+\s+AS\s*\()"
)


def sql_texts(source: str, module: str) -> list[str]:
    """String literals (f-strings read with their holes filled) that are SQL statements."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _SQL.match(str(text)):
            found.append(f"{node.lineno}: {str(text)[:60]}")
    return found


def test_only_the_store_holds_sql() -> None:
    # DESIGN.md: `store` owns the tables and queries; SQL elsewhere is a second, unmigrated schema.
    assert _new_offenders(sql_texts, "store", set()) == {}


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (process_spawns, "from subprocess import run"),
        (process_spawns, "import os\npid = os.fork()"),
        (process_spawns, "from os import posix_spawn\nposix_spawn(path, argv, env)"),
        (process_spawns, "import asyncio\nawait asyncio.create_subprocess_exec('git')"),
        (dbos_imports, "from dbos import DBOS"),
        (dbos_imports, "def f():\n    import dbos._sys_db\n"),
        (signal_sends, "import os, signal\nos.kill(pid, signal.SIGTERM)"),
        (signal_sends, "from os import killpg as kp\nkp(pgid, 9)"),
        (signal_sends, "import signal\nsignal.pthread_kill(tid, signal.SIGKILL)"),
        (signal_sends, "proc.send_signal(15)"),
        (sql_texts, "conn.execute('SELECT id FROM tasks WHERE id = :i')"),
        (sql_texts, "conn.execute('''\n    INSERT INTO trigger_hits (a) VALUES (:a)''')"),
        (sql_texts, "conn.execute(f'UPDATE {table} SET status = :s')"),
        (sql_texts, "conn.execute('DELETE FROM queue_entries')"),
        (sql_texts, "X = 'CREATE UNIQUE INDEX ix ON t (a)'"),
        (sql_texts, "X = 'ALTER TABLE tasks ADD COLUMN x'"),
        (sql_texts, "c.execute('PRAGMA foreign_keys=ON')"),
    ],
)
def test_each_ownership_rule_catches_a_violation(check: Callable[[str, str], list[str]], source: str) -> None:
    assert check(source, "animus.daemon._x") != []


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (process_spawns, "import os\nos.getpid()"),
        (signal_sends, "import signal\nsignal.signal(signal.SIGTERM, handler)"),  # installs a handler
        (signal_sends, "import signal\nDRAIN = signal.SIGUSR1"),
        (sql_texts, "'''Update the task and set its status.'''"),
        (sql_texts, "help = 'select a task from the list'"),
    ],
)
def test_each_ownership_rule_lets_the_innocent_pass(check: Callable[[str, str], list[str]], source: str) -> None:
    assert check(source, "animus.daemon._x") == []


def _entries() -> Iterator[tuple[str, str]]:
    yield from (("signals", f) for f in sorted(SIGNAL_SENDERS_ALLOWED))
    yield from (("spawns", f) for f in sorted(SPAWNERS_ALLOWED))


@pytest.mark.parametrize(("rule", "file"), list(_entries()))
def test_every_listed_offender_still_offends(rule: str, file: str) -> None:
    # A fixed file must leave the list in the same change, so the lists only shrink.
    path = SRC / file
    assert path.is_file(), f"{file} is gone: drop it from the {rule!r} list"
    check = {"dbos": dbos_imports, "signals": signal_sends, "spawns": process_spawns, "sql": sql_texts}[rule]
    assert check(path.read_text(), _module_name(path)) != [], f"{file} keeps the {rule!r} rule now: drop it from the list"


# ---- curated exports ----------------------------------------------------------------------------


def _defined_names(tree: ast.Module) -> set[str]:
    """Public names a module binds at top level (defs, classes, assignments); TYPE_CHECKING is a switch, not API."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") and n != "TYPE_CHECKING"}


def _package_all(package: str) -> set[str]:
    return set(getattr(importlib.import_module(package), "__all__", ()))


def unexported_names(source: str, module: str) -> list[str]:
    """Public names defined in a private module ``_x`` that its package's ``__all__`` leaves out."""
    package, _, leaf = module.rpartition(".")
    if not leaf.startswith("_") or leaf.startswith("__"):
        return []  # a public module (config/project.py) is its own surface; __init__/__main__ are the package
    return sorted(_defined_names(ast.parse(source)) - _package_all(package))


def init_names(source: str, package: str) -> set[str]:
    """Public names a package's __init__ defines or imports from inside the package (httpx's rule)."""
    tree = ast.parse(source)
    names = _defined_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _resolve(node, package).startswith(package + "."):
            names |= {a.asname or a.name for a in node.names if not (a.asname or a.name).startswith("_")}
    return names


def _private_modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("_*.py")) if not p.name.startswith("__") and (p.parent / "__init__.py").is_file()]


def test_every_public_name_of_a_private_module_is_exported() -> None:
    # STYLE.md: a small public surface. A public name in `_x.py` is either the package's API (in
    # __all__) or an accident; one that only its package uses gets a leading underscore.
    misses = {_rel(p): names for p in _private_modules() if (names := unexported_names(p.read_text(), _module_name(p)))}
    assert misses == {}


@pytest.mark.parametrize("init", sorted(SRC.rglob("__init__.py")), ids=lambda p: _module_name(p))
def test_a_package_exports_every_public_name_its_init_binds(init: Path) -> None:
    # httpx's test_exported_members: what the package namespace offers is exactly what __all__ says.
    exported = _package_all(_module_name(init))
    if not exported:
        return  # no curated surface (animus, cli): nothing to complete
    assert init_names(init.read_text(), _module_name(init)) - exported == set()


def test_the_export_check_catches_an_unexported_name() -> None:
    assert unexported_names("def launch(): ...\ndef helper(): ...\n_hidden = 1\n", "animus.procs._x") == ["helper"]
    assert unexported_names("def helper(): ...\n", "animus.config.project") == []
    source = "from animus.git._repo import Repo\nfrom ._land import land\nfrom os import path\nDEFAULT = 1\n"
    assert init_names(source, "animus.git") == {"Repo", "land", "DEFAULT"}


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("package", sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()))
def test_package_exports_are_sorted_and_real(package: str) -> None:
    # A name in __all__ that is not there breaks `from animus.x import *` and misleads the reader.
    module = importlib.import_module(f"animus.{package}")
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert package in ("cli",), f"animus.{package} has no __all__"
        return
    assert list(exported) == sorted(exported, key=_isort_key), f"animus.{package}.__all__ is not sorted"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


# ---- size ---------------------------------------------------------------------------------------


def test_no_module_exceeds_the_hard_cap_of_600_lines() -> None:
    # STYLE.md: one concept per module, a few hundred lines each, like Starlette's.
    too_big = {_rel(p): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert too_big == {}

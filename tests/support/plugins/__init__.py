"""Reference plugins (real programs speaking the plugin protocol) and helpers to install them in a project."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYECHO = HERE / "animus-plugin-pyecho"
NODE_EDITOR = HERE / "animus-provider-nodeedit.js"


def install(project: Path, source: Path, name: str | None = None) -> Path:
    """Copy ``source`` into ``<project>/.animus/plugins/`` (as ``name``), executable; the copy's path."""
    folder = project / ".animus" / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    target.chmod(0o755)
    return target
JSON_TASKS = HERE / "animus-plugin-jsontasks.js"
PY_TRIGGER = HERE / "animus-plugin-pytrigger"
PY_LOG = HERE / "animus-plugin-pylog"

"""``.animus/plugins.lock``: the sha256 of every trusted plugin binary; a changed or new binary is refused until locked."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from animus import procs
from animus.config.project import CONFIG_DIRNAME
from animus.domain.errors import Conflict, InvalidInput
from animus.plugins._discovery import Manifest, PluginSource

LOCK_FILE_NAME = "plugins.lock"
_LOCK_FORMAT = 1

LockState = Literal["locked", "changed", "unlocked", "missing"]


@dataclass(frozen=True)
class LockEntry:
    """One locked plugin: the binary it was, its digest, and what its manifest said then."""

    #: relative to the project root when the binary is inside it (so a committed lock holds in every clone)
    binary: str
    sha256: str
    version: str
    plugin_kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"binary": self.binary, "sha256": self.sha256, "version": self.version, "plugin_kind": self.plugin_kind}


def lock_path(project_root: Path) -> Path:
    return project_root / CONFIG_DIRNAME / LOCK_FILE_NAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_lock(project_root: Path) -> dict[str, LockEntry]:
    """The lock's entries by plugin name (none when there is no lock file)."""
    path = lock_path(project_root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: unreadable: {exc}", hint="run `animus plugin lock` to write it again") from exc
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        raise InvalidInput(f"{path}: not a plugins lock file", hint="run `animus plugin lock` to write it again")
    entries = {}
    for name, entry in plugins.items():
        try:
            entries[name] = LockEntry(str(entry["binary"]), str(entry["sha256"]), str(entry.get("version", "")), str(entry.get("plugin_kind", "")))
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}: entry {name!r} is malformed", hint="run `animus plugin lock`") from exc
    return entries


def write_lock(project_root: Path, entries: dict[str, LockEntry]) -> Path:
    """Replace the lock file with ``entries`` (sorted, so the file diffs well under version control)."""
    path = lock_path(project_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": _LOCK_FORMAT, "plugins": {name: entries[name].to_dict() for name in sorted(entries)}}
    procs.write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def _binary_key(source: PluginSource, project_root: Path) -> str:
    """The binary as the lock names it: project-relative inside the project, else absolute."""
    try:
        return source.binary.relative_to(project_root.absolute()).as_posix()
    except ValueError:
        return str(source.binary)


def entry_for(source: PluginSource, manifest: Manifest, *, project_root: Path) -> LockEntry:
    return LockEntry(_binary_key(source, project_root), sha256_of(source.binary), manifest.version, manifest.plugin_kind)


def lock_state(source: PluginSource, lock: dict[str, LockEntry], *, project_root: Path) -> LockState:
    """How ``source``'s binary stands against the lock: locked (same digest), changed, unlocked, or missing (no file)."""
    if not source.binary.is_file():
        return "missing"
    entry = lock.get(source.name)
    if entry is None:
        return "unlocked"
    if entry.binary != _binary_key(source, project_root) or entry.sha256 != sha256_of(source.binary):
        return "changed"
    return "locked"


def verify(source: PluginSource, lock: dict[str, LockEntry], *, project_root: Path) -> None:
    """Conflict unless ``source`` is locked as it is on disk now: animus runs no binary it was not told to trust."""
    state = lock_state(source, lock, project_root=project_root)
    if state == "locked":
        return
    if state == "missing":
        raise Conflict(f"plugin {source.name}: its binary {source.binary} does not exist")
    if state == "changed":
        raise Conflict(
            f"plugin {source.name}: {source.binary} changed since it was locked (sha256 differs from .animus/plugins.lock)",
            details={"plugin": source.name, "binary": str(source.binary)},
            hint="check the new binary, then run `animus plugin lock` to trust it",
        )
    raise Conflict(
        f"plugin {source.name}: {source.binary} is not in .animus/plugins.lock",
        details={"plugin": source.name, "binary": str(source.binary)},
        hint="run `animus plugin lock` to trust the plugins found now",
    )

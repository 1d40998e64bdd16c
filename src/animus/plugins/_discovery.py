"""Finding plugins: plugins.yaml files, plugin directories, ``$ANIMUS_PLUGIN_PATH``; and the ``--manifest`` probe."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from animus import procs
from animus.config.project import CONFIG_DIRNAME, animus_home
from animus.domain.errors import InvalidInput, PluginError, SpawnError
from animus.plugins._jsonrpc import PROTOCOL_VERSION

#: executables in a plugin directory count only with one of these prefixes
PLUGIN_PREFIXES = ("animus-plugin-", "animus-provider-")
ENV_PLUGIN_PATH = "ANIMUS_PLUGIN_PATH"
MANIFEST_TIMEOUT_SECS = 5.0
MANIFEST_MAX_BYTES = 1 << 20

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ENTRY_KEYS = frozenset({"binary", "args", "env"})


@dataclass(frozen=True)
class PluginSource:
    """One plugin found on disk: its name, the binary (absolute), extra args, the variables it may see, and where it was found."""

    name: str
    binary: Path
    origin: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [str(self.binary), *self.args]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "binary": str(self.binary), "origin": self.origin, "args": list(self.args), "env": list(self.env)}


@dataclass(frozen=True)
class Manifest:
    """What a plugin says of itself on ``--manifest`` (one JSON object on stdout)."""

    name: str
    version: str
    plugin_kind: str
    description: str
    protocol_version: str
    capabilities: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "plugin_kind": self.plugin_kind,
            "description": self.description,
            "protocol_version": self.protocol_version,
            "capabilities": list(self.capabilities),
        }


def plugin_name_of(file_name: str) -> str | None:
    """``animus-provider-echo.js`` → ``echo``; None for a file that is not named like a plugin."""
    for prefix in PLUGIN_PREFIXES:
        if file_name.startswith(prefix):
            rest = file_name[len(prefix) :]
            stem = rest.split(".", 1)[0]
            return stem if _NAME.fullmatch(stem) else None
    return None


def discover(project_root: Path, *, environ: Mapping[str, str] | None = None) -> list[PluginSource]:
    """Every plugin visible from ``project_root``, the first of each name winning, in this order:

    ``<project>/.animus/plugins.yaml``, ``~/.animus/plugins.yaml`` (``$ANIMUS_HOME``), executables
    named ``animus-plugin-*`` / ``animus-provider-*`` in ``<project>/.animus/plugins/``, then in each
    directory of ``$ANIMUS_PLUGIN_PATH`` (colon-separated). Nothing is run.
    """
    environ = os.environ if environ is None else environ
    found: dict[str, PluginSource] = {}
    candidates: list[PluginSource] = []
    candidates += _from_yaml(project_root / CONFIG_DIRNAME / "plugins.yaml", base=project_root, origin="project plugins.yaml")
    candidates += _from_yaml(animus_home() / "plugins.yaml", base=animus_home(), origin="~/.animus/plugins.yaml")
    candidates += _from_dir(project_root / CONFIG_DIRNAME / "plugins", origin=".animus/plugins/")
    for folder in (environ.get(ENV_PLUGIN_PATH) or "").split(os.pathsep):
        if folder:
            candidates += _from_dir(Path(folder).expanduser(), origin=f"${ENV_PLUGIN_PATH}")
    for candidate in candidates:
        found.setdefault(candidate.name, candidate)
    return sorted(found.values(), key=lambda s: s.name)


def _from_yaml(path: Path, *, base: Path, origin: str) -> list[PluginSource]:
    """The ``plugins:`` map of a plugins.yaml: ``{name: {binary, args?, env?}}``; a relative binary is ``base``'s."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"plugins"}:
        raise InvalidInput(f"{path}: expected one key `plugins:` mapping names to {{binary, args, env}}")
    entries = data.get("plugins") or {}
    if not isinstance(entries, dict):
        raise InvalidInput(f"{path}: `plugins:` must map plugin names to {{binary, args, env}}")
    sources = []
    for name, entry in entries.items():
        where = f"{path}: plugins.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(f"{where}: a plugin name is 1-64 letters, digits, '_' or '-'")
        if isinstance(entry, str):
            entry = {"binary": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("binary"), str) or not entry["binary"]:
            raise InvalidInput(f"{where}: needs `binary:` (a path to the executable)")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: binary, args, env")
        args, env = entry.get("args") or [], entry.get("env") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise InvalidInput(f"{where}.args: must be a list of strings")
        if not isinstance(env, list) or not all(isinstance(e, str) and e for e in env):
            raise InvalidInput(f"{where}.env: must be a list of environment variable names")
        binary = Path(entry["binary"]).expanduser()
        if not binary.is_absolute():
            binary = base / binary
        sources.append(PluginSource(name, binary.absolute(), origin, tuple(args), tuple(env)))
    return sources


def _from_dir(folder: Path, *, origin: str) -> list[PluginSource]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    sources = []
    for entry in entries:
        name = plugin_name_of(entry.name)
        if name and entry.is_file() and os.access(entry, os.X_OK):
            sources.append(PluginSource(name, entry.absolute(), origin))
    return sources


def plugin_env(source: PluginSource, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The scrubbed environment of a plugin: PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR … plus the names its entry lists.

    Never ANIMUS_* (the state dir and database URL are not a plugin's business), never a secret it did not ask for.
    """
    return procs.build_env(os.environ if environ is None else environ, {}, inherit=source.env or ())


def probe_manifest(
    source: PluginSource, *, cwd: Path, log_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Manifest:
    """Run ``<binary> --manifest`` (stdin closed, 1 MiB cap, 5 s timeout, scrubbed env) and read its manifest."""
    argv = [*source.argv, "--manifest"]
    try:
        result = procs.run_capped(
            argv, cwd=cwd, env=plugin_env(source, environ), timeout=MANIFEST_TIMEOUT_SECS,
            max_bytes=MANIFEST_MAX_BYTES, stderr_path=log_path,
        )
    except SpawnError as exc:
        raise PluginError(f"plugin {source.name}: cannot run {source.binary}: {exc.message}") from exc
    if result.timed_out:
        raise PluginError(f"plugin {source.name}: `--manifest` did not finish within {MANIFEST_TIMEOUT_SECS:.0f}s")
    if result.overflowed:
        raise PluginError(f"plugin {source.name}: `--manifest` printed more than {MANIFEST_MAX_BYTES} bytes")
    if result.returncode != 0:
        raise PluginError(f"plugin {source.name}: `--manifest` exited with code {result.returncode}")
    try:
        data = json.loads(result.stdout)
    except ValueError as exc:
        raise PluginError(f"plugin {source.name}: `--manifest` did not print one JSON object: {exc}") from exc
    return parse_manifest(data, where=f"plugin {source.name}")


def parse_manifest(data: Any, *, where: str) -> Manifest:
    """A checked Manifest from decoded JSON; PluginError names the first field that is wrong."""
    if not isinstance(data, dict):
        raise PluginError(f"{where}: the manifest must be a JSON object")
    for key in ("name", "version", "plugin_kind", "protocol_version"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PluginError(f"{where}: the manifest needs `{key}` (a non-empty string)")
    description = data.get("description", "")
    capabilities = data.get("capabilities", [])
    if not isinstance(description, str):
        raise PluginError(f"{where}: the manifest's `description` must be a string")
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise PluginError(f"{where}: the manifest's `capabilities` must be a list of strings")
    check_protocol(data["protocol_version"], where=where)
    return Manifest(
        data["name"], data["version"], data["plugin_kind"], description, data["protocol_version"], tuple(capabilities)
    )


def check_protocol(version: str, *, where: str) -> None:
    """PluginError unless ``version`` has the host's major version (1.x.y)."""
    if version.split(".", 1)[0] != PROTOCOL_VERSION.split(".", 1)[0]:
        raise PluginError(f"{where}: speaks protocol {version}, this animus speaks {PROTOCOL_VERSION}")

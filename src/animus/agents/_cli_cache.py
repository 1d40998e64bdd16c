"""The agent CLIs animus installs: their pinned npm packages, the cache off PATH, and finding a CLI's binary.

The pins live in ``pinned-clis.txt`` beside this module, the one copy that ``animus agents install``,
``scripts/install-agent-clis`` and the test suite all read. A cache entry
``<cache>/<tool>-<version>/`` counts only once its ``.animus-installed`` stamp exists (written after
npm succeeded), so an interrupted install is never mistaken for a working one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from animus.domain.errors import InvalidInput, Unavailable

ENV_CLI_CACHE = "ANIMUS_CLI_CACHE"
_STAMP = ".animus-installed"
_PINS_FILE = Path(__file__).with_name("pinned-clis.txt")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")
_NODE_MAJOR = 20
_NPM_TIMEOUT_SECS = 900.0


@dataclass(frozen=True)
class PinnedCli:
    """One installable agent CLI: the animus tool name, its npm package, the pinned version, its binary."""

    tool: str
    package: str
    version: str
    binary: str


@dataclass(frozen=True)
class CliLocation:
    """Where a tool's CLI was found: the path (or the bare name found on PATH) and how it was found."""

    path: str
    source: Literal["binary", "PATH", "cache"]


@dataclass(frozen=True)
class InstalledCli:
    """The result of ``install_cli``: the binary, its cache directory, and whether npm ran just now."""

    tool: str
    package: str
    version: str
    binary: str
    directory: str
    fresh: bool


@cache
def pinned_clis() -> dict[str, PinnedCli]:
    """The pins, by tool name, in file order."""
    pins: dict[str, PinnedCli] = {}
    for line in _PINS_FILE.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            tool, package, version, binary = fields
            pins[tool] = PinnedCli(tool, package, version, binary)
    return pins


def cli_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$ANIMUS_CLI_CACHE``, else ``~/.cache/animus/agent-clis`` (the same rule as the install script)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_CLI_CACHE):
        return Path(environ[ENV_CLI_CACHE]).expanduser()
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".cache" / "animus" / "agent-clis"


def cached_cli(tool: str, version: str | None = None, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """The cached binary of ``tool`` at ``version``; with no version the pinned one, else the newest installed."""
    pin = pinned_clis().get(tool)
    if pin is None:
        return None
    root = cli_cache_dir(environ)
    if version is not None:
        return _installed_binary(root / f"{tool}-{version}", pin.binary)
    found = _installed_binary(root / f"{tool}-{pin.version}", pin.binary)
    if found is not None:
        return found
    others = sorted(root.glob(f"{tool}-*"), key=lambda d: _version_key(d.name.removeprefix(f"{tool}-")), reverse=True)
    for directory in others:
        found = _installed_binary(directory, pin.binary)
        if found is not None:
            return found
    return None


def find_cli(
    tool: str,
    name: str,
    *,
    configured: str | None = None,
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CliLocation | None:
    """Where ``tool``'s CLI is: the agent's ``binary:`` if set, else ``name`` on ``path``, else the install cache.

    A configured binary is never second-guessed: when it is missing the answer is None, not a CLI
    found somewhere else.
    """
    if configured:
        if os.sep in configured:
            target = Path(configured).expanduser()
            return CliLocation(str(target), "binary") if _executable(target) else None
        found = shutil.which(configured, path=path)
        return CliLocation(found, "binary") if found else None
    if shutil.which(name, path=path):
        return CliLocation(name, "PATH")
    cached = cached_cli(tool, environ=environ)
    return CliLocation(str(cached), "cache") if cached is not None else None


def install_hint(tool: str) -> str:
    """The command that puts ``tool``'s CLI on this machine."""
    if tool in pinned_clis():
        pin = pinned_clis()[tool]
        return f"run `animus agents install {tool}` (npm package {pin.package}@{pin.version})"
    return _OTHER_HINTS.get(tool, f"install the {tool} CLI and put it on PATH")


_OTHER_HINTS = {
    "opencode": "install opencode (`npm install -g opencode-ai`) or set `binary:` on the agent",
    "aider": "install aider (`pipx install aider-chat`) or set `binary:` on the agent",
    "cursor": "install the Cursor CLI (`curl https://cursor.com/install -fsS | bash`) or set `binary:` on the agent",
    "gh": "install the GitHub CLI (https://cli.github.com) and run `gh auth login`",
}


def install_cli(
    tool: str,
    version: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> InstalledCli:
    """Install ``tool``'s npm package (the pinned version unless ``version``) into the cache; idempotent."""
    from animus import procs

    pin = pinned_clis().get(tool)
    if pin is None:
        raise InvalidInput(f"animus cannot install {tool!r}: choose one of {', '.join(pinned_clis())}")
    version = version or pin.version
    if not _VERSION.match(version):
        raise InvalidInput(f"invalid version {version!r}: expected e.g. {pin.version}")
    environ = os.environ if environ is None else environ
    directory = cli_cache_dir(environ) / f"{tool}-{version}"
    result = InstalledCli(
        tool, pin.package, version, str(directory / "node_modules" / ".bin" / pin.binary), str(directory), fresh=False
    )
    if _installed_binary(directory, pin.binary) is not None:
        progress(f"{pin.package}@{version} is already installed in {directory}")
        return result
    npm = shutil.which("npm", path=environ.get("PATH"))
    node = shutil.which("node", path=environ.get("PATH"))
    if npm is None or node is None:
        missing = "npm" if npm is None else "node"
        raise Unavailable(f"{missing} is not on PATH", hint=f"install Node.js {_NODE_MAJOR}+ (it ships npm) and retry")
    probe = procs.run_program([node, "-p", "process.versions.node"], env=environ, timeout=30)
    major = probe.stdout.strip().split(".")[0]
    if not probe.ok or not major.isdigit() or int(major) < _NODE_MAJOR:
        raise Unavailable(
            f"Node.js {probe.stdout.strip() or '(unknown version)'} is too old: the agent CLIs need Node.js >= {_NODE_MAJOR}",
            hint=f"install Node.js {_NODE_MAJOR}+ and retry",
        )
    progress(f"installing {pin.package}@{version} into {directory} (npm install; this can take a minute)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    # Optional dependencies carry the native binaries (claude, codex); never omit them.
    argv = [
        npm,
        "install",
        "--prefix",
        str(directory),
        "--no-audit",
        "--no-fund",
        "--include=optional",
        "--loglevel=error",
        f"{pin.package}@{version}",
    ]
    run = procs.run_program(argv, env=environ, timeout=_NPM_TIMEOUT_SECS)
    if not run.ok:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        why = "timed out" if run.timed_out else f"exited {run.returncode}"
        raise Unavailable(
            f"npm install {pin.package}@{version} {why}" + (": " + " | ".join(tail) if tail else ""),
            hint="check the network and the npm registry (npm config get registry); nothing was stamped, rerun to retry",
        )
    binary = directory / "node_modules" / ".bin" / pin.binary
    if not _executable(binary):
        raise Unavailable(f"{pin.package}@{version} installed, but {binary} is missing")
    (directory / _STAMP).write_text(f"{pin.package}@{version}\n", encoding="utf-8")
    progress(f"installed {tool} {version}: {binary}")
    return InstalledCli(tool, pin.package, version, str(binary), str(directory), fresh=True)


def _installed_binary(directory: Path, binary: str) -> Path | None:
    target = directory / "node_modules" / ".bin" / binary
    return target if (directory / _STAMP).is_file() and _executable(target) else None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+-]", version))
